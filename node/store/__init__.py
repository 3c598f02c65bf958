"""SQLite storage: the only package that imports sqlite3; its errors stay inside."""
