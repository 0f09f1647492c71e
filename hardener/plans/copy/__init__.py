"""narrow-copy planners: what a Python, Node, Go or Java app needs from its build context.

Each planner reads the context and the later instructions (``step.Step``) and returns the set
of context paths the app needs, or the reason it cannot know; ``narrow-copy`` chooses one by
the manifests it finds in the context.
"""
