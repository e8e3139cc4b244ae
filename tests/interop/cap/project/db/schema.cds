// The subset of the sandbox's Dataverse tables that plain OData v4 can carry, flattened the way
// d365conn names Dataverse columns (TDS convention): a lookup is its GUID column plus `<name>name`
// (and `<name>type` when polymorphic), a choice its integer plus `<name>name` (the label).
// Entity names are the Dataverse logical names so the same SQL runs against both services.
// The rows come from CSV files (db/data/d365-<entity>.csv) that the test writes at run time,
// exported from the sandbox; none are committed.
namespace d365;

entity account {
  key accountid                 : UUID;
      name                      : String(160);
      accountnumber             : String(20);
      address1_city             : String(80);
      address1_country          : String(80);
      emailaddress1             : String(100);
      revenue                   : Decimal(19, 4);
      creditlimit               : Decimal(19, 4);
      numberofemployees         : Integer;
      industrycode              : Integer;
      industrycodename          : String(100);
      statecode                 : Integer;
      statecodename             : String(100);
      creditonhold              : Boolean;
      donotemail                : Boolean;
      address1_latitude         : Double;
      createdon                 : DateTime;
      lastusedincampaign        : DateTime;
      primarycontactid          : UUID;
      primarycontactidname      : String(160);
      parentaccountid           : UUID;
      parentaccountidname       : String(160);
      ownerid                   : UUID;
      owneridname               : String(160);
      owneridtype               : String(64);
      transactioncurrencyid     : UUID;
      transactioncurrencyidname : String(100);
}

entity contact {
  key contactid                 : UUID;
      firstname                 : String(50);
      lastname                  : String(50);
      fullname                  : String(160);
      emailaddress1             : String(100);
      jobtitle                  : String(100);
      address1_city             : String(80);
      birthdate                 : Date;
      gendercode                : Integer;
      gendercodename            : String(100);
      annualincome              : Decimal(19, 4);
      statecode                 : Integer;
      donotemail                : Boolean;
      createdon                 : DateTime;
      parentcustomerid          : UUID;
      parentcustomeridname      : String(160);
      parentcustomeridtype      : String(64);
}
