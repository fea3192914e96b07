import type { ICredentialType, INodeProperties } from 'n8n-workflow';

import { restRateProperty } from '../nodes/shared/credentialProperties';

/**
 * Kurier (zkVerify relayer) API key. Kurier puts the key in URL paths and in the WebSocket query
 * string, so it cannot be sent by n8n's generic header/query authentication; the nodes build the
 * URLs themselves and test the key with `kurierApiCredentialTest` (see Kurier nodes' `methods`).
 */
export class KurierApi implements ICredentialType {
	name = 'kurierApi';

	displayName = 'Kurier API';

	icon = { light: 'file:kurier.svg', dark: 'file:kurier.dark.svg' } as const;

	documentationUrl = 'https://docs.zkverify.io/overview/getting-started/kurier';

	properties: INodeProperties[] = [
		{
			displayName: 'Environment',
			name: 'environment',
			type: 'options',
			options: [
				{ name: 'Mainnet', value: 'mainnet', description: 'https://api.kurier.xyz/api/v1' },
				{ name: 'Testnet', value: 'testnet', description: 'https://api-testnet.kurier.xyz/api/v1' },
				{ name: 'Custom', value: 'custom', description: 'Your own base URL, for example a local emulator' },
			],
			default: 'mainnet',
			description: 'Keys are per network: a testnet key does not work on mainnet',
		},
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: '',
			placeholder: 'http://127.0.0.1:4010/api/v1',
			description: 'The REST base URL, ending in /api/v1. The WebSocket URL is derived from it.',
			displayOptions: { show: { environment: ['custom'] } },
		},
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'Your Kurier API key for the chosen environment, from the Kurier dashboard. It is sent in Kurier\'s URLs, never in items or logs.',
		},
		restRateProperty,
	];
}
