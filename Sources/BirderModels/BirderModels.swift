// BirderModels: the networks (families, registry), weights bound by checkpoint names.
