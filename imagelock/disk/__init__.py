"""Disk images (the intent's `[output]`): the release record, publishing one as an OCI artifact, and
verifying a node's cached copy. docs/disk-images.md."""
