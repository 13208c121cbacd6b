"""The board: a read-only page in Chinese and a JSON API, served by the daemon (aiohttp)."""
