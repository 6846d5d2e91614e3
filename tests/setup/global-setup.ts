// Replaced by the PostgreSQL template setup; kept trivial so tests that need no database run.
export default function setup() {}
