"""mdwatch.storage"""
