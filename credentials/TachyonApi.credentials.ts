import type { ICredentialType, INodeProperties } from 'n8n-workflow';

import { hostChoiceProperties, restRateProperty } from '../nodes/shared/credentialProperties';

/**
 * Tachyon (rath.fi) relayer. The API key (`api-key` header) relays and reads transactions and, as
 * the SDK and the older API page do it, registers the WebSocket; the optional dashboard JWT (Bearer)
 * is what the newest page shows for registering; the WebSocket key (`x-ws-token` header) is not an
 * API key. The host is a choice: the two documented hosts, or custom. `baseUrl` holds the choice;
 * a credential saved when `baseUrl` was free text keeps its URL (any http(s) URL there is used as is).
 * The nodes send the secrets themselves and test them with `tachyonApiCredentialTest`.
 */
export class TachyonApi implements ICredentialType {
	name = 'tachyonApi';

	displayName = 'Tachyon API';

	icon = { light: 'file:tachyon.svg', dark: 'file:tachyon.dark.svg' } as const;

	documentationUrl = 'https://docs.rath.fi/tachyon';

	properties: INodeProperties[] = [
		...hostChoiceProperties({
			hosts: [
				{ name: 'tachyon.rath.fi (Newest Docs)', value: 'https://tachyon.rath.fi', description: 'REST https://tachyon.rath.fi, WebSocket wss://tachyon.rath.fi/ws' },
				{ name: 'api.tachyon.rath.fi (Older Docs, SDK)', value: 'https://api.tachyon.rath.fi', description: 'REST https://api.tachyon.rath.fi, WebSocket wss://api.tachyon.rath.fi/ws' },
			],
			hostDescription: 'Which Tachyon host to use. The docs name two; if one refuses your key, try the other.',
			customPlaceholder: 'http://127.0.0.1:4030',
			customDescription: 'The REST origin (without /api). The WebSocket URL is derived from it when registration does not give one.',
		}),
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'Tachyon API key, sent as the api-key header to relay and read transactions, and to register the WebSocket when no dashboard JWT is set',
		},
		{
			displayName: 'Dashboard JWT',
			name: 'dashboardJwt',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'Optional. When set, the WebSocket is registered with it (Authorization: Bearer, as the newest docs show) instead of with the API key.',
		},
		{
			displayName: 'WebSocket URL',
			name: 'wsUrl',
			type: 'string',
			default: '',
			placeholder: 'wss://tachyon.rath.fi/ws',
			description: "Optional: the wsUrl of an already registered WebSocket (output of Tachyon → Register WebSocket). Empty with a WebSocket Key: the host's WebSocket URL.",
		},
		{
			displayName: 'WebSocket Key',
			name: 'wsKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'Optional: the key of an already registered WebSocket. It spares the trigger the registration.',
		},
		restRateProperty,
	];
}
