import type { INodeProperties } from 'n8n-workflow';

import { CUSTOM_HOST } from './credentialFields';

export interface HostChoice {
	/** The documented hosts, the default first. */
	hosts: ReadonlyArray<{ name: string; value: string; description: string }>;
	/** What the host is used for, under the Host field. */
	hostDescription: string;
	customPlaceholder: string;
	customDescription: string;
}

/**
 * A credential's Host (`baseUrl`: a documented host, or `custom`) and Custom Base URL
 * (`customBaseUrl`, shown for `custom`), as every service's credential offers them. Read them back
 * with `chosenBaseUrl`.
 */
export function hostChoiceProperties(choice: HostChoice): INodeProperties[] {
	return [
		// eslint-disable-next-line n8n-nodes-base/node-param-default-missing -- the default is set below: the credential's first documented host
		{
			displayName: 'Host',
			name: 'baseUrl',
			type: 'options',
			options: [...choice.hosts, { name: 'Custom', value: CUSTOM_HOST, description: 'Your own URL, for example a proxy or a local emulator' }],
			default: choice.hosts[0].value,
			description: choice.hostDescription,
		},
		{
			displayName: 'Custom Base URL',
			name: 'customBaseUrl',
			type: 'string',
			default: '',
			placeholder: choice.customPlaceholder,
			description: choice.customDescription,
			displayOptions: { show: { baseUrl: [CUSTOM_HOST] } },
		},
	];
}

/**
 * The key's REST rate limit where the user knows it (services do not publish theirs; Kurier raises
 * them on request). Read back with `knownRestRate`.
 */
export const restRateProperty: INodeProperties = {
	displayName: 'REST Requests per Second',
	name: 'restRequestsPerSecond',
	type: 'number',
	typeOptions: { minValue: 0 },
	default: 0,
	description:
		"Your key's REST rate limit, if the service told you (for example after raising it). Triggers read open jobs at this rate when they catch up after a restart or an outage. 0: not known; they start at 5 a second and go faster while the service answers no 429 (Too Many Requests).",
};
