import type { ICredentialType, INodeProperties } from 'n8n-workflow';

import { hostChoiceProperties, restRateProperty } from '../nodes/shared/credentialProperties';

/**
 * Allfeat ATS (Allfeat Time-Stamp) API. Transaction tracking needs no key (the transaction UUID is
 * the capability), so the tracking routes are called without one, whatever is set here; the key
 * is for routes that need it. `baseUrl` is the host: one of the two documented hosts, or `custom`
 * with `customBaseUrl` (a credential saved with a URL in `baseUrl` itself keeps working). The
 * webhook secret is only used by the webhook trigger, to verify `X-Allfeat-Signature`. The key and
 * `organizationId` are what the registration routes (`/v1/organizations/{org}/works/…`) take. The nodes
 * test the credential with `allfeatAtsApiCredentialTest` (see the Allfeat ATS nodes' `methods`).
 */
export class AllfeatAtsApi implements ICredentialType {
	name = 'allfeatAtsApi';

	displayName = 'Allfeat ATS API';

	icon = { light: 'file:allfeatAts.svg', dark: 'file:allfeatAts.dark.svg' } as const;

	documentationUrl = 'https://docs.allfeat.org/ats/api/guides/tracking/';

	properties: INodeProperties[] = [
		...hostChoiceProperties({
			hosts: [
				{ name: 'Organizations API (organizations.api.allfeat.org)', value: 'https://organizations.api.allfeat.org', description: 'The host of the API quick-start and its polling example' },
				{ name: 'ATS API (ats.api.allfeat.org)', value: 'https://ats.api.allfeat.org', description: "The widget's ats-url" },
			],
			hostDescription: 'Where transactions are tracked (GET /v1/transactions/{id}); the WebSocket URL is derived from it',
			customPlaceholder: 'http://127.0.0.1:4020',
			customDescription: 'The API root, without /v1 (a trailing /v1 is ignored). The WebSocket URL is derived from it.',
		}),
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			placeholder: 'afo_sk_live_…',
			description: 'Optional: your organization key. Tracking needs none, so it is never sent on tracking routes.',
		},
		{
			displayName: 'Organization ID',
			name: 'organizationId',
			type: 'string',
			default: '',
			placeholder: '4b0c8a4e-1f7a-4d61-9a55-3c2f0e9d7b11',
			description: 'For Register Work and Add Version only: the organization the API key belongs to (in the Allfeat dashboard). Tracking needs none.',
		},
		{
			displayName: 'Webhook Secret',
			name: 'webhookSecret',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'For the Allfeat ATS Webhook Trigger: the webhook_secret_base64 shown once when the API key was created with a webhook_url',
		},
		restRateProperty,
	];
}
