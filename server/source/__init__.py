"""The pollution-source register (污染源台账) of the environmental grid."""
