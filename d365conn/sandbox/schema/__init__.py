"""Real Dataverse metadata copied into the package (see the LICENSE files beside it).

account.json.gz / opportunity.json.gz: the EntityMetadata of RetrieveMetadataChanges output, untrimmed.
account_entitydefinition.json.gz: `GET EntityDefinitions(LogicalName='account')` with relationships.
contact_columns.json: the property names of a real `GET contacts(<id>)` row, in order.
"""
