"""Validation of peers' data: sys validation (structural rules), validation receipts and
warrants. Pure: values in, outcomes out; nothing here touches the network or the disk."""
