// The public library: one import for everything.
@_exported import BirderCore
@_exported import BirderIO
@_exported import BirderVision
@_exported import BirderModels
@_exported import BirderEval
@_exported import BirderHub
