"""mdwatch.crawler"""
