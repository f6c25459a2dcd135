-- An API token may hold fewer roles than its account (comma-separated role
-- codes); NULL means all of them. A FHIR client that only reads results
-- need not carry the account's right to register patients.
ALTER TABLE api_token ADD COLUMN roles TEXT;
