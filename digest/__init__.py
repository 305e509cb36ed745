"""digest: daily research-paper digests, ranked for each reader."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/digest-project/digest"
