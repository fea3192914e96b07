import type { ICredentialType, INodeProperties } from 'n8n-workflow';

/**
 * Allfeat ATS (Allfeat Time-Stamp) API. Transaction tracking needs no key (the transaction UUID is
 * the capability), so the API key is optional and sent as `Authorization: Bearer` only when set.
 * The webhook secret is only used by the webhook trigger, to verify `X-Allfeat-Signature`. The nodes
 * test the credential with `allfeatAtsApiCredentialTest` (see the Allfeat ATS nodes' `methods`).
 */
export class AllfeatAtsApi implements ICredentialType {
	name = 'allfeatAtsApi';

	displayName = 'Allfeat ATS API';

	icon = 'file:allfeatAts.svg' as const;

	documentationUrl = 'https://docs.allfeat.org/ats/api/guides/tracking/';

	properties: INodeProperties[] = [
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: 'https://ats.api.allfeat.org',
			placeholder: 'https://ats.api.allfeat.org',
			description: 'The ATS API root (without /v1). The WebSocket URL is derived from it.',
		},
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			placeholder: 'afo_sk_live_…',
			description: 'Optional: your organization key. Tracking works without it.',
		},
		{
			displayName: 'Webhook Secret',
			name: 'webhookSecret',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'For the Allfeat ATS Webhook Trigger: the webhook_secret_base64 shown once when the API key was created with a webhook_url',
		},
	];
}
