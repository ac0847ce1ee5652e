"""The contract suites: the document's promises held against the fake and deployments."""
