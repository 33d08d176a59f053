"""Data-subject requests: access (GDPR Art. 15), erasure (Art. 17) and the HIPAA 164.528
accounting of disclosures, each with its legal deadline and its records on the trail.

One job a module: `requests` (receiving and extending), `deadlines`, `declarations`
(agents' records of processing), `records` (what the portal holds about a person),
`exports` and `erasure`.

Invariants:

- A request is on the portal's trail when it is received (`subject.request`), and an
  export is recorded before it is built (`subject.export`), so a consultation of a
  person's data can never happen off the record.
- The trail names a request by its id and never the person: no identifier and no
  subject key enters a hashed body (both are personal data; they stay in the request
  row and in the unhashed key columns).
- Erasure deletes sidecar values only, through the database door, in one transaction
  with its signed receipt (`subject.erasure`): counts, exceptions and every erased
  (stream, seq, field). Verification reads the receipt; a missing sidecar no receipt
  names is tampering. A held event (legal hold) and an event under a statutory floor
  (the agent's declaration) keep their values, and the receipt says which and why.
"""
