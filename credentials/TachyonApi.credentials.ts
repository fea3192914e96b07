import type { ICredentialType, INodeProperties } from 'n8n-workflow';

/**
 * Tachyon (rath.fi) relayer. Three secrets for three purposes (tachyon-and-allfeat.md A.1): the API
 * key (`api-key` header) for transactions, the dashboard JWT (Bearer) for account configuration such
 * as registering the WebSocket, and the WebSocket key (`x-ws-token` header), which is not an API key.
 * The nodes send them themselves and test them with `tachyonApiCredentialTest` (see their `methods`).
 */
export class TachyonApi implements ICredentialType {
	name = 'tachyonApi';

	displayName = 'Tachyon API';

	icon = 'file:tachyon.svg' as const;

	documentationUrl = 'https://docs.rath.fi/tachyon';

	properties: INodeProperties[] = [
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: 'https://tachyon.rath.fi',
			description: 'The REST origin. The older docs use https://api.tachyon.rath.fi; a local emulator works too.',
		},
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'Tachyon API key, sent as the api-key header to relay and read transactions',
		},
		{
			displayName: 'Dashboard JWT',
			name: 'dashboardJwt',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'For Register WebSocket, and for the trigger when the WebSocket fields below are empty',
		},
		{
			displayName: 'WebSocket URL',
			name: 'wsUrl',
			type: 'string',
			default: '',
			placeholder: 'wss://tachyon.rath.fi/ws',
			description: 'Optional: the wsUrl of an already registered WebSocket (output of Tachyon → Register WebSocket)',
		},
		{
			displayName: 'WebSocket Key',
			name: 'wsKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'Optional: the key of an already registered WebSocket. With the URL it spares the trigger the registration.',
		},
	];
}
