// BirderVision: see the module's issue.
