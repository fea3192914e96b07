import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// n8n-core reads its settings (encryption key, folders) from the user folder when first loaded:
// give every test file its own throw-away one, before anything imports n8n-core.
process.env.N8N_USER_FOLDER ??= mkdtempSync(join(tmpdir(), 'n8n-onchain-events-'));
process.env.N8N_LOG_LEVEL ??= 'silent';
