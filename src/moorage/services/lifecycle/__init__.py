"""Storage lifecycle: online garbage collection of blobs, repository links, untagged manifests and
expired uploads, while clients push, with no read-only window.

Why nothing referenced is ever lost. Two facts hold at every commit:

- a blob a repository links, or a manifest references, has its bytes in storage;
- the collector deletes bytes only of a blob whose row is marked ``deleting_since``, and marks a
  row only when no repository links the blob, no manifest references it and no push has used it for
  the grace period (``touched_at``).

Writers that create a link, a reference or a tag take the writer side of a fence
(``metadata.queries.gc.writer_fence``: PostgreSQL's shared advisory lock; on SQLite every write
transaction is exclusive anyway); each of the collector's deleting transactions takes its exclusive
side and restates its whole condition in SQL, so a manifest PUT either commits before the check
(and the blob is referenced) or after the deletion (and finds no link: ``MANIFEST_BLOB_UNKNOWN``,
never a manifest whose layer is gone). A writer that stored a blob, or found it stored, checks the
bytes inside its fenced transaction and puts its own copy back when the collector removed them
meanwhile (``guard.secure_blob``), then clears any mark (``revive``). A blob HEAD or GET (at most
once per half grace period), a mount and a re-upload all refresh ``touched_at``, so the usual push
(HEAD each layer, upload the missing ones, PUT the manifest) has the grace period between its HEAD
and its PUT.

The collector (``collector``) marks, then deletes bytes and rows in a second transaction: killed
between the two, it leaves marked rows with no link and no reference, which no client can reach and
the next run finishes. Untagged manifests are collected only when the run's policy says so, and
then only those no tag reaches through an index or a ``subject`` (``reachability``). ``runs``
records runs for the API and the command line; ``schedule`` starts them on their cron schedules.
"""
