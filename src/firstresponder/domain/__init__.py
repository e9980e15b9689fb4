"""The pure core: alerts, classification, incidents. Standard library only, no I/O."""
