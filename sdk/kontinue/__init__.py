"""kontinue: Kubernetes-native durable execution for plain Python functions.

Every step a workflow takes is checkpointed into Kubernetes custom resources (group
``kontinue.cloud``), so a workflow survives worker crashes and redeploys and another worker
resumes it where it stopped.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
