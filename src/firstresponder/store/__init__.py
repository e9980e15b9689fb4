"""Persistence: the store ports and the SQL store (SQLite or PostgreSQL) behind them."""
