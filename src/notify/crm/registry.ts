import type { Network } from '../../config/networks.js';
import type { CrmSettings } from '../../config/schema.js';
import type { CrmConnector } from './connector.js';
import { HubSpotConnector } from './hubspot.js';
import { OdooConnector } from './odoo.js';
import { SalesforceConnector } from './salesforce.js';

/**
 * The connector for a tenant's CRM settings, or null when the tenant has none. Each CRM is
 * a CRM_KINDS value (src/config/schema.ts) and a CrmConnector.
 */
export function connectorFor(crm: CrmSettings, allowedNetworks: readonly Network[]): CrmConnector | null {
  switch (crm.kind) {
    case 'hubspot':
      return new HubSpotConnector({ baseUrl: crm.baseUrl, token: crm.token, allowedNetworks });
    case 'odoo':
      return new OdooConnector({ baseUrl: crm.baseUrl, database: crm.database ?? '', login: crm.login ?? '', apiKey: crm.token, allowedNetworks });
    case 'salesforce':
      return new SalesforceConnector({
        baseUrl: crm.baseUrl, clientId: crm.clientId ?? '', clientSecret: crm.clientSecret ?? '', refreshToken: crm.token, allowedNetworks,
      });
    case '':
      return null;
  }
}
