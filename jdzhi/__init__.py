"""jdzhi: tools that protect the Jingdezhen Zhi (景德镇制) certification mark for porcelain."""

__version__ = "0.1.0"
