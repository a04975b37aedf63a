// BirderModels: see the module's issue.
