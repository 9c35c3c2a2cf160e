"""A local, faithful emulator of the Cloudflare Pages REST API (test-only; not shipped)."""

__version__ = "1.0.0"

DEV_TOKEN = "cfpages-emulator-dev-token-7c1f3a9e"
DEV_ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
DEV_EMAIL = "dev@cfpages-emulator.example"
DEV_KEY = "c0ffee0123456789abcdef0123456789abcde"  # 37 hex chars, like a real global API key
