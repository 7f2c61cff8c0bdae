"""mdwatch.models"""
