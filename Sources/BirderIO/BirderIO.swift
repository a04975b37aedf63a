// BirderIO: see the module's issue.
