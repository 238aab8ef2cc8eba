"""Small local servers that speak each upstream's wire protocol, for the adapter tests."""
