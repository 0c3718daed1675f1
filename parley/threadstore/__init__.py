"""Where thread replies are held: this process's memory, or Redis shared by replicas."""
