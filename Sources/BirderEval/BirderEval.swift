// BirderEval: see the module's issue.
