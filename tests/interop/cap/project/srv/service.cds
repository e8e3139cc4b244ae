// One OData v4 service over the mirrored tables, served at /odata/v4/crm/.
using { d365 } from '../db/schema';

service CrmService @(path: 'crm') {
  entity account as projection on d365.account;
  entity contact as projection on d365.contact;
}
