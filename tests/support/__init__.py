"""Reusable test helpers: TLS certificates, a live server subprocess, a signing device client."""
