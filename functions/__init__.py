"""Thin entry points, one blueprint module per family: parse and validate, call `shared`,
map the result. Heavy modules are imported inside handlers to keep cold start cheap."""
