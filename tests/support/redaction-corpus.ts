/**
 * The redaction corpus: field names that are data (none may lose its value), field names
 * that name a secret (all must), free text that is data (kept as is) and personal-data
 * shapes in free text (none may survive). tests/unit/redact.property.test.ts checks
 * redact() against it; tests/reliability/redaction.test.ts plants the PII shapes in requests.
 */

/** Ordinary field names, several of which contain a secret word's letters (pass, ssn, token, pin, key, secret). */
export const BENIGN_KEYS = [
  'className', 'class_name', 'businessName', 'processName', 'lessons', 'assessment', 'passengers', 'passengerCount',
  'bypassCache', 'bypass_cache', 'compass', 'passive', 'passport_country', 'surpass', 'tokensUsed', 'tokens_used',
  'maxTokens', 'nextToken', 'next_token', 'pageToken', 'NextContinuationToken', 'tokenizer', 'spinner', 'pinned',
  'shipping', 'opinion', 'keyboard', 'primaryKey', 'sortKey', 'monkey', 'secretary', 'secretariat', 'sessionCount',
  'sessions', 'authorName', 'author', 'cardinality', 'discard', 'cookbook', 'signal', 'design', 'assignee',
  'credit', 'creditLimit', 'passover', 'impasse', 'trespass', 'description', 'title', 'status',
  'encompassing', 'tokenomics', 'appVersion', 'messageCount', 'dismissed',
];

/** Field names that name a secret, in the spellings clients send. */
export const SECRET_KEYS = [
  'password', 'Password', 'userPassword', 'user_password', 'newpassword', 'passwd', 'pwd', 'pass', 'passphrase',
  'passcode', 'secret', 'clientSecret', 'client_secret', 'SECRET_KEY', 'secretAccessKey', 'token', 'accessToken',
  'access_token', 'refresh_token', 'idToken', 'x-auth-token', 'csrfToken', 'sessionToken', 'authorization',
  'Proxy-Authorization', 'apiKey', 'api_key', 'x-api-key', 'API-KEY', 'credentials', 'cookie', 'Set-Cookie',
  'sessionId', 'session_id', 'privateKey', 'private_key', 'signature', 'X-Amz-Signature', 'pin', 'ssn', 'SSN',
  'cardNumber', 'card_number', 'creditCard', 'cvv', 'cvc', 'otp', 'jwt',
];

/** Free text that must come out unchanged: versions, dates, times, ids, amounts, short numbers. */
export const BENIGN_TEXTS = [
  'version 1.2.3', 'v10.4.1-beta', '2026-11-29T18:23:08.123Z', '2026-11-29 18:23', 'at 12:30:45', 'order 12345',
  'took 1234.56 ms', '123e4567-e89b-12d3-a456-426614174000', 'sha 3f2a9c1b', 'page 2 of 10', 'retry in 30 s',
  '1732900000000', 'items 1 2 3 4 5 6 7 8 9', 'room 101', 'a:b:c', 'mac aa:bb:cc:dd:ee:ff', 'ratio 16:9',
  'price 1,299.00', 'std::vector', 'count=42', 'nextToken=abc123', 'compass=north',
  'bypassCache=true', 'tokensUsed: 1200',
];

/** Personal data in free text: phone numbers (E.164 and national formats) and IPv4/IPv6 addresses. */
export const PII_TEXTS = [
  '+1 415 555 0132', '+14155550132', '(415) 555-0132', '415-555-0132', '415.555.0132', '+44 20 7946 0958',
  '020 7946 0958', '07700 900123', '+49 151 12345678', '+33 6 12 34 56 78', '+61 2 9876 5432', '+81-3-1234-5678',
  '203.0.113.7', '198.51.100.23', '10.0.0.1', '192.168.1.254', '255.255.255.255', '2001:db8::1',
  '2001:0db8:85a3:0000:0000:8a2e:0370:7334', '::ffff:192.0.2.128', 'fe80::1ff:fe23:4567:890a', '::1',
  '2001:db8:0:0:1:0:0:1',
];
