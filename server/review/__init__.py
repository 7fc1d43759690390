"""The grid heads' review: staffing, patrol coverage and inspectors' work in a subtree; moving inspectors."""
