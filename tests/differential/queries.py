# ruff: noqa: E501  (a table of queries: one query per line or small block, as sqlglot keeps its golden tests)
"""The differential queries, as data: adding one is adding one line.

Each :class:`Q` is run through ``d365conn.connect()`` and, as ``ref`` (default: the same text), by the
reference engine; the rows must agree (see ``compare.py``). Fields:
- ``order``: ``"multiset"`` (no ORDER BY: compared as bags), ``"ordered"`` (a total order, ties broken
  by a key), or a tuple of column indexes (the ORDER BY columns: their sequence must match, rows within
  a run of ties are compared as bags).
- ``ref``: the reference's spelling when DuckDB spells it differently (``TOP n`` -> ``LIMIT n``,
  ``LEN`` -> ``LENGTH``...). The driver reads T-SQL by default (its ``SQLDialect`` option).
- ``params``: qmark parameters, given to both sides; a :class:`FromReference` is resolved by asking the
  reference first (for values such as GUIDs that depend on the generated data).
- ``remote``: for EXPLAIN checks: True means the service must answer it all (no "locally" step),
  False means part of it must run locally; None: not checked. ``pushed``: fragments that must appear in
  the decoded request URLs of the plan.

The data is the sandbox's generated data (rows=2500, seed=11: 2,500 accounts, 1,250 contacts,
1,250 opportunities, 20 users, 10 teams, 5 business units, 3 currencies). Literals that depend on
the generated GUIDs are taken from the reference with :class:`FromReference` rather than written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from differential.compare import Order


@dataclass(frozen=True)
class FromReference:
    """A parameter value taken from the reference: the first column of the first row of ``sql``."""

    sql: str


@dataclass(frozen=True)
class Q:
    id: str
    sql: str
    order: Order = "multiset"
    ref: str | None = None
    params: tuple[Any, ...] = ()
    remote: bool | None = None
    pushed: tuple[str, ...] = ()

    @property
    def reference_sql(self) -> str:
        return self.ref if self.ref is not None else self.sql


A = "SELECT accountid, name"  # the usual head of an account query
C = "SELECT contactid, fullname"
O_ = "SELECT opportunityid, name"

QUERIES: list[Q] = [
    # -- filters: comparisons, NULLs, case-insensitive strings ------------------------------------------
    Q("f_eq_city_upper", f"{A} FROM account WHERE address1_city = 'SEATTLE'", remote=True, pushed=("$filter=",)),
    Q("f_eq_city_lower", f"{A} FROM account WHERE address1_city = 'boston'", remote=True),
    Q("f_ne_city", f"{A} FROM account WHERE address1_city <> 'new york' AND address1_country = 'UNITED STATES'",
      remote=True),
    Q("f_is_null", f"{A}, emailaddress1 FROM account WHERE emailaddress1 IS NULL", remote=True,
      pushed=("eq null",)),
    Q("f_is_not_null", f"{A}, emailaddress1 FROM account WHERE emailaddress1 IS NOT NULL AND address1_city = 'Tokyo'",
      remote=True, pushed=("ne null",)),
    Q("f_revenue_null", f"{A}, revenue FROM account WHERE revenue IS NULL", remote=True),
    Q("f_revenue_gt", f"{A}, revenue FROM account WHERE revenue > 45000000", remote=True, pushed=("revenue gt",)),
    Q("f_revenue_range", f"{A}, revenue FROM account WHERE revenue >= 10000000 AND revenue < 10500000", remote=True),
    Q("f_revenue_ne_excludes_null", f"{A}, revenue FROM account WHERE revenue <> 10000000"),
    Q("f_not_gt_excludes_null", f"{A}, revenue FROM account WHERE NOT (revenue > 1000000)"),
    Q("f_choice_eq", f"{A}, industrycode, industrycodename FROM account WHERE industrycode = 3", remote=True),
    Q("f_choice_ne_excludes_null", f"{A}, industrycode FROM account WHERE industrycode <> 3"),
    Q("f_choice_in", f"{A}, industrycode FROM account WHERE industrycode IN (1, 2, 3)", remote=True),
    Q("f_choice_not_in_null", f"{A}, industrycode FROM account WHERE industrycode NOT IN (1, 2, 3)"),
    Q("f_in_strings_case", f"{A}, address1_city FROM account WHERE address1_city IN ('seattle', 'BOSTON', 'Paris')",
      remote=True),
    Q("f_not_in_strings", f"{A} FROM account WHERE address1_country NOT IN ('united states', 'Canada', 'GERMANY')"),
    Q("f_between", f"{A}, numberofemployees FROM account WHERE numberofemployees BETWEEN 100 AND 500", remote=True),
    Q("f_not_between", f"{A}, numberofemployees FROM account WHERE numberofemployees NOT BETWEEN 100 AND 19000"),
    Q("f_datetime_ge", f"{A}, createdon FROM account WHERE createdon >= '2024-06-01'", remote=True),
    Q("f_datetime_lt_z", f"{A}, createdon FROM account WHERE createdon < '2019-03-01T00:00:00Z'", remote=True),
    Q("f_datetime_and_null", f"{A}, lastusedincampaign FROM account "
                             "WHERE lastusedincampaign IS NOT NULL AND lastusedincampaign > '2024-06-01'"),
    Q("f_state_inactive", f"{A}, statecode, statecodename, statuscode, statuscodename FROM account WHERE statecode = 1",
      remote=True),
    Q("f_choice_label_ci", f"{A}, statuscodename FROM account WHERE statuscodename = 'inactive'"),
    Q("f_choice_label_like", f"{A}, industrycodename FROM account WHERE industrycodename LIKE 'b%'"),
    Q("f_lookup_null", f"{A} FROM account WHERE primarycontactid IS NULL", remote=True),
    Q("f_lookup_not_null", f"{A}, parentaccountid, parentaccountidname FROM account WHERE parentaccountid IS NOT NULL",
      remote=True),
    Q("f_owner_type_team", f"{A}, ownerid, owneridname, owneridtype FROM account WHERE owneridtype = 'team'"),
    Q("f_lookup_name_ci", f"{A}, owneridname FROM account WHERE owneridname = 'SANDBOX ADMINISTRATOR'"),
    Q("f_lookup_name_like", f"{A}, primarycontactidname FROM account WHERE primarycontactidname LIKE 'karen%'"),
    Q("f_or_across_fields", f"{A} FROM account WHERE address1_city = 'Tokyo' OR revenue > 49000000", remote=True),
    Q("f_nested_and_or", f"{A}, revenue FROM account WHERE (address1_city = 'Berlin' OR address1_city = 'münchen') "
                         "AND (revenue IS NULL OR revenue < 5000000)", remote=True),
    Q("f_column_vs_column", f"{A}, address1_latitude, address1_longitude FROM account "
                            "WHERE address1_latitude < address1_longitude", remote=True),
    Q("f_expr_vs_column", f"{A}, revenue, creditlimit FROM account WHERE creditlimit * 400 > revenue"),
    Q("f_quote_in_literal", f"{C}, lastname FROM contact WHERE lastname = 'o''brian'", remote=True),
    Q("f_unicode_case_ascii", f"{C}, lastname FROM contact WHERE lastname = 'müller'", remote=True),
    Q("f_unicode_case_nonascii", f"{C}, lastname FROM contact WHERE lastname = 'MÜLLER'"),
    Q("f_unicode_city", f"{C}, address1_city FROM contact WHERE address1_city = 'MÜNCHEN'"),
    Q("f_params", f"{A}, revenue FROM account WHERE address1_city = ? AND revenue > ?",
      params=("boston", 1000000), remote=True),
    Q("f_param_string_key", f"{A}, accountnumber FROM account WHERE accountnumber = ?", params=("acc-0000042",),
      remote=True),
    Q("f_guid_param", f"{A} FROM account WHERE transactioncurrencyid = ?",
      params=(FromReference("SELECT transactioncurrencyid FROM transactioncurrency WHERE isocurrencycode = 'EUR'"),),
      remote=True),
    Q("f_bool_false", "SELECT accountid, donotemail FROM account WHERE donotemail = 0 AND address1_city = 'Sydney'"),
    Q("f_bool_true", "SELECT teamid, name, isdefault FROM team WHERE isdefault = 1"),
    Q("f_contact_date_between", f"{C}, birthdate FROM contact WHERE birthdate BETWEEN '1970-01-01' AND '1979-12-31'",
      remote=True),
    Q("f_contact_date_null", f"{C}, birthdate FROM contact WHERE birthdate IS NULL", remote=True),
    Q("f_contact_customer_type", f"{C}, parentcustomerid, parentcustomeridtype FROM contact "
                                 "WHERE parentcustomeridtype = 'account' AND gendercode = 1"),
    Q("f_opp_date", f"{O_}, estimatedclosedate FROM opportunity WHERE estimatedclosedate >= '2025-03-01'", remote=True),
    Q("f_opp_won", f"{O_}, actualvalue, statuscodename FROM opportunity WHERE actualvalue IS NOT NULL", remote=True),
    Q("f_opp_in_int", f"{O_}, closeprobability FROM opportunity WHERE closeprobability IN (10, 25)", remote=True),
    Q("f_entity_set_name", "SELECT COUNT(*) FROM accounts WHERE address1_country = 'Canada'"),
    # -- LIKE patterns --------------------------------------------------------------------------------------
    Q("like_prefix", f"{A} FROM account WHERE name LIKE 'contoso%'", remote=True, pushed=("startswith",)),
    Q("like_suffix", f"{A} FROM account WHERE name LIKE '%labs'", remote=True),
    Q("like_contains", f"{A} FROM account WHERE name LIKE '%WIDE%'", remote=True),
    Q("like_not", f"{A} FROM account WHERE name NOT LIKE '%Inc.' AND address1_city = 'Dublin'"),
    Q("like_underscore", f"{A} FROM account WHERE name LIKE 'C_ho%'"),
    Q("like_ampersand", f"{A} FROM account WHERE name LIKE '%& Co.'", remote=True),
    Q("like_dots", f"{A} FROM account WHERE name LIKE '%S.A.%'", remote=True),
    Q("like_escaped_percent", f"{A} FROM account WHERE name LIKE '%[%]%'"),
    Q("like_char_class", f"{A} FROM account WHERE name LIKE '[A-C]%' AND address1_city = 'Paris'",
      ref=f"{A} FROM account WHERE regexp_matches(name, '^[A-Ca-c]') AND address1_city = 'Paris'"),
    Q("like_email_domain", f"{C}, emailaddress1 FROM contact WHERE emailaddress1 LIKE '%.smith.%@example.com'"),
    Q("like_url", f"{A}, websiteurl FROM account WHERE websiteurl LIKE 'https://www.fabrikam%'", remote=True),
    Q("like_on_lookup_name", f"{C}, parentcustomeridname FROM contact WHERE parentcustomeridname LIKE '%holdings'"),
    # -- expressions and functions ---------------------------------------------------------------------------
    Q("x_upper_lower", "SELECT accountid, UPPER(name), LOWER(address1_city) FROM account WHERE address1_city = 'Paris'"),
    Q("x_len", "SELECT accountid, LEN(name) FROM account WHERE address1_city = 'Madrid'",
      ref="SELECT accountid, LENGTH(name) FROM account WHERE address1_city = 'Madrid'"),
    Q("x_upper_in_where", f"{A} FROM account WHERE UPPER(address1_city) = 'SEATTLE'"),
    Q("x_arith_decimal", "SELECT accountid, revenue * 2, revenue + creditlimit, revenue - 1 FROM account "
                         "WHERE address1_city = 'Denver'"),
    Q("x_division", "SELECT accountid, revenue / numberofemployees FROM account WHERE address1_city = 'Austin' "
                    "AND numberofemployees > 0"),
    Q("x_coalesce", "SELECT accountid, COALESCE(revenue, 0) FROM account WHERE address1_city = 'Chicago'"),
    Q("x_isnull", "SELECT accountid, ISNULL(emailaddress1, 'none') FROM account WHERE address1_city = 'Chicago'",
      ref="SELECT accountid, COALESCE(emailaddress1, 'none') FROM account WHERE address1_city = 'Chicago'"),
    Q("x_case", "SELECT accountid, CASE WHEN revenue > 25000000 THEN 'big' WHEN revenue IS NULL THEN 'unknown' "
                "ELSE 'small' END AS size FROM account WHERE address1_country = 'France'"),
    Q("x_year_filter", f"{A}, createdon FROM account WHERE YEAR(createdon) = 2023 AND address1_city = 'Toronto'"),
    Q("x_concat", "SELECT accountid, CONCAT(address1_city, ', ', address1_country) FROM account "
                  "WHERE address1_stateorprovince = 'BC'"),
    Q("x_substring", "SELECT accountid, SUBSTRING(name, 1, 5) FROM account WHERE address1_city = 'Vancouver'"),
    Q("x_round_abs", "SELECT accountid, ROUND(address1_latitude, 1), ABS(address1_longitude) FROM account "
                     "WHERE address1_country = 'Japan'"),
    Q("x_cast_int_varchar", "SELECT accountid, CAST(numberofemployees AS VARCHAR(10)) FROM account "
                            "WHERE address1_city = 'London'"),
    Q("x_replace_left", "SELECT accountid, REPLACE(name, ' ', '-'), LEFT(accountnumber, 3) FROM account "
                        "WHERE address1_city = 'Amsterdam'"),
    Q("x_datediff", "SELECT opportunityid, DATEDIFF(day, createdon, estimatedclosedate) FROM opportunity "
                    "WHERE statecode = 1",
      ref="SELECT opportunityid, date_diff('day', createdon::DATE, estimatedclosedate) FROM opportunity "
          "WHERE statecode = 1"),
    Q("x_expr_where", f"{A} FROM account WHERE revenue / numberofemployees > 100000"),
    Q("x_literal_only", "SELECT 1 + 1, 'a'"),
    # -- joins -------------------------------------------------------------------------------------------------
    Q("j_inner_lookup_contact", "SELECT a.accountid, a.name, c.fullname, c.emailaddress1 FROM account a "
                                "JOIN contact c ON a.primarycontactid = c.contactid WHERE a.address1_city = 'Seattle'"),
    Q("j_left_lookup", "SELECT a.accountid, c.contactid, c.lastname FROM account a "
                       "LEFT JOIN contact c ON a.primarycontactid = c.contactid WHERE a.address1_country = 'Ireland'"),
    Q("j_right", "SELECT a.accountid, c.contactid FROM contact c "
                 "RIGHT JOIN account a ON a.primarycontactid = c.contactid WHERE a.address1_city = 'Sydney'"),
    Q("j_full", "SELECT a.accountid, c.contactid FROM (SELECT accountid FROM account WHERE address1_city = 'Tokyo') a "
                "FULL OUTER JOIN (SELECT contactid, parentcustomerid FROM contact WHERE address1_city = 'Tokyo') c "
                "ON c.parentcustomerid = a.accountid", remote=False),
    Q("j_cross", "SELECT t.isocurrencycode, b.name FROM transactioncurrency t CROSS JOIN businessunit b"),
    Q("j_self_parent", "SELECT child.accountid, child.name, parent.name FROM account child "
                       "JOIN account parent ON child.parentaccountid = parent.accountid"),
    Q("j_self_parent_name_matches", "SELECT COUNT(*) FROM account child JOIN account parent "
                                    "ON child.parentaccountid = parent.accountid WHERE child.parentaccountidname <> parent.name"),
    Q("j_systemuser_owner", "SELECT a.accountid, u.fullname, u.title FROM account a "
                            "JOIN systemuser u ON a.owninguser = u.systemuserid WHERE a.address1_city = 'Atlanta'"),
    Q("j_systemuser_createdby", "SELECT u.fullname, COUNT(*) FROM account a JOIN systemuser u "
                                "ON a.createdby = u.systemuserid GROUP BY u.fullname"),
    Q("j_currency", "SELECT a.accountid, a.revenue, t.isocurrencycode, t.exchangerate FROM account a "
                    "JOIN transactioncurrency t ON a.transactioncurrencyid = t.transactioncurrencyid "
                    "WHERE t.isocurrencycode = 'eur'"),
    Q("j_three_way", "SELECT o.opportunityid, a.name, c.fullname FROM opportunity o "
                     "JOIN account a ON o.parentaccountid = a.accountid JOIN contact c ON o.parentcontactid = c.contactid "
                     "WHERE o.statecode = 1"),
    Q("j_team_owner", "SELECT a.accountid, t.name, t.teamtypename FROM account a "
                      "JOIN team t ON a.owningteam = t.teamid WHERE a.address1_city = 'Boston'"),
    Q("j_left_user_nulls", "SELECT a.accountid, u.fullname FROM account a LEFT JOIN systemuser u "
                           "ON a.owninguser = u.systemuserid WHERE a.owneridtype = 'team'"),
    Q("j_lookup_name_consistent", "SELECT COUNT(*) FROM account a JOIN contact c ON a.primarycontactid = c.contactid "
                                  "WHERE a.primarycontactidname <> c.fullname"),
    Q("j_on_string_ci", "SELECT a.accountid, c.contactid FROM account a JOIN contact c "
                        "ON UPPER(a.address1_city) = c.address1_city WHERE a.revenue > 49000000 AND c.gendercode = 2"),
    Q("j_non_equi", "SELECT o.opportunityid, a.accountid FROM opportunity o JOIN account a "
                    "ON o.estimatedvalue > a.revenue WHERE a.revenue < 100000 AND o.estimatedvalue < 20000"),
    Q("j_contact_parent_account", "SELECT c.contactid, a.accountnumber FROM contact c "
                                  "JOIN account a ON c.parentcustomerid = a.accountid WHERE c.familystatuscode = 4"),
    Q("j_bu_hierarchy", "SELECT b.name, p.name FROM businessunit b LEFT JOIN businessunit p "
                        "ON b.parentbusinessunitid = p.businessunitid"),
    Q("j_user_bu", "SELECT u.fullname, b.name FROM systemuser u JOIN businessunit b ON u.businessunitid = b.businessunitid"),
    # -- subqueries -----------------------------------------------------------------------------------------------
    Q("s_in_select", f"{A} FROM account WHERE primarycontactid IN (SELECT contactid FROM contact WHERE gendercode = 2)"),
    Q("s_not_in_with_nulls", f"{A} FROM account WHERE accountid NOT IN (SELECT parentaccountid FROM account)"),
    Q("s_not_in_without_nulls", f"{A} FROM account WHERE accountid NOT IN "
                                "(SELECT parentaccountid FROM account WHERE parentaccountid IS NOT NULL) "
                                "AND address1_city = 'Denver'"),
    Q("s_exists", f"{A} FROM account a WHERE EXISTS (SELECT 1 FROM opportunity o "
                  "WHERE o.parentaccountid = a.accountid AND o.statecode = 1)"),
    Q("s_not_exists", f"{A} FROM account a WHERE NOT EXISTS (SELECT 1 FROM contact c "
                      "WHERE c.parentcustomerid = a.accountid) AND a.address1_city = 'Berlin'"),
    Q("s_scalar_select", "SELECT a.accountid, (SELECT COUNT(*) FROM opportunity o WHERE o.parentaccountid = a.accountid) "
                         "FROM account a WHERE a.address1_city = 'Tokyo'"),
    Q("s_scalar_where", f"{A}, revenue FROM account WHERE revenue > (SELECT AVG(revenue) FROM account) "
                        "AND address1_city = 'Redmond'"),
    Q("s_derived_table", "SELECT city, n FROM (SELECT address1_city AS city, COUNT(*) AS n FROM account "
                         "GROUP BY address1_city) t WHERE n > 120"),
    Q("s_in_select_strings_ci", f"{C} FROM contact WHERE address1_city IN "
                                "(SELECT UPPER(address1_city) FROM account WHERE address1_country = 'Spain')"),
    Q("s_in_select_top", f"{A} FROM account WHERE accountid IN (SELECT TOP 5 accountid FROM account ORDER BY accountid)",
      ref=f"{A} FROM account WHERE accountid IN (SELECT accountid FROM account ORDER BY accountid LIMIT 5)"),
    Q("s_in_select_guid_lookup", f"{O_} FROM opportunity WHERE parentaccountid IN "
                                 "(SELECT accountid FROM account WHERE address1_city = 'Vancouver' AND revenue > 40000000)"),
    # -- aggregates ----------------------------------------------------------------------------------------------
    Q("a_count_star", "SELECT COUNT(*) FROM account", remote=True, pushed=("$apply=",)),
    Q("a_count_filtered", "SELECT COUNT(*) FROM account WHERE address1_country = 'germany'", remote=True),
    Q("a_count_column_distinct", "SELECT COUNT(revenue), COUNT(DISTINCT address1_city), COUNT(emailaddress1) FROM account"),
    Q("a_sum_min_max", "SELECT SUM(revenue), MIN(revenue), MAX(revenue) FROM account", remote=True),
    Q("a_avg_decimal", "SELECT AVG(revenue) FROM account"),
    Q("a_avg_int", "SELECT AVG(numberofemployees) FROM account"),
    Q("a_avg_local", "SELECT AVG(revenue), AVG(numberofemployees) FROM account a "
                     "WHERE EXISTS (SELECT 1 FROM contact c WHERE c.contactid = a.primarycontactid)", remote=False),
    Q("a_group_city", "SELECT address1_city, COUNT(*) FROM account GROUP BY address1_city", remote=True),
    Q("a_group_choice", "SELECT industrycode, industrycodename, COUNT(*) FROM account GROUP BY industrycode, industrycodename"),
    Q("a_group_state_sum", "SELECT statecode, statuscode, SUM(revenue), COUNT(*) FROM account GROUP BY statecode, statuscode",
      remote=True),
    Q("a_group_owner_type", "SELECT owneridtype, COUNT(*) FROM account GROUP BY owneridtype"),
    Q("a_group_year", "SELECT YEAR(createdon) AS y, COUNT(*) FROM account GROUP BY YEAR(createdon)"),
    Q("a_group_lookup", "SELECT transactioncurrencyid, transactioncurrencyidname, COUNT(*), SUM(revenue) FROM account "
                        "GROUP BY transactioncurrencyid, transactioncurrencyidname"),
    Q("a_min_max_string_datetime", "SELECT MIN(name), MAX(name), MIN(createdon), MAX(createdon) FROM account"),
    Q("a_max_date", "SELECT MIN(birthdate), MAX(birthdate) FROM contact"),
    Q("a_having_count", "SELECT address1_city, COUNT(*) FROM account GROUP BY address1_city HAVING COUNT(*) > 125"),
    Q("a_having_sum", "SELECT address1_country, SUM(revenue) FROM account GROUP BY address1_country "
                      "HAVING SUM(revenue) > 3000000000"),
    Q("a_order_by_aggregate", "SELECT address1_city, COUNT(*) AS n FROM account GROUP BY address1_city "
                              "ORDER BY n DESC, address1_city", order="ordered"),
    Q("a_empty_set", "SELECT COUNT(*), SUM(revenue), MAX(name) FROM account WHERE address1_city = 'Atlantis'"),
    Q("a_group_null_key", "SELECT industrycode, COUNT(*), AVG(numberofemployees) FROM account GROUP BY industrycode"),
    Q("a_group_label_only", "SELECT industrycodename, COUNT(*) FROM account GROUP BY industrycodename"),
    Q("a_count_distinct_lookup", "SELECT COUNT(DISTINCT ownerid), COUNT(DISTINCT primarycontactid) FROM account"),
    Q("a_sum_case", "SELECT SUM(CASE WHEN revenue > 25000000 THEN 1 ELSE 0 END), COUNT(*) FROM account"),
    Q("a_contact_income_by_gender", "SELECT gendercodename, AVG(annualincome), COUNT(*) FROM contact GROUP BY gendercodename"),
    Q("a_opp_by_status", "SELECT statecodename, statuscodename, SUM(estimatedvalue), COUNT(*) FROM opportunity "
                         "GROUP BY statecodename, statuscodename"),
    Q("a_opp_customer_having", "SELECT customerid, customeridname, COUNT(*), SUM(estimatedvalue) FROM opportunity "
                               "GROUP BY customerid, customeridname HAVING COUNT(*) >= 3"),
    Q("a_group_bool", "SELECT creditonhold, COUNT(*) FROM account GROUP BY creditonhold"),
    Q("a_group_filtered", "SELECT address1_city, MAX(revenue) FROM account WHERE address1_country = 'United States' "
                          "GROUP BY address1_city", remote=True),
    # -- window functions -----------------------------------------------------------------------------------------
    Q("w_row_number_top3", "WITH r AS (SELECT accountid, address1_city, revenue, ROW_NUMBER() OVER "
                           "(PARTITION BY address1_city ORDER BY revenue DESC, accountid) AS rn FROM account "
                           "WHERE revenue IS NOT NULL) SELECT accountid, address1_city, rn FROM r WHERE rn <= 3"),
    Q("w_rank", "SELECT accountid, numberofemployees, RANK() OVER (ORDER BY numberofemployees DESC) FROM account "
                "WHERE address1_city = 'Seattle'", remote=False, pushed=("address1_city eq 'Seattle'",)),
    Q("w_dense_rank_industry", "SELECT accountid, DENSE_RANK() OVER (ORDER BY industrycode) FROM account "
                               "WHERE address1_city = 'Chicago'"),
    Q("w_sum_partition", "SELECT accountid, SUM(revenue) OVER (PARTITION BY address1_country) FROM account "
                         "WHERE address1_country IN ('Ireland', 'Australia')"),
    Q("w_lag", "SELECT accountid, createdon, LAG(createdon) OVER (ORDER BY createdon, accountid) FROM account "
               "WHERE address1_city = 'Toronto'"),
    Q("w_count_over_all", "SELECT accountid, COUNT(*) OVER () FROM account WHERE address1_city = 'Madrid'"),
    Q("w_running_total", "SELECT opportunityid, SUM(estimatedvalue) OVER (ORDER BY createdon, opportunityid "
                         "ROWS UNBOUNDED PRECEDING) FROM opportunity WHERE statecode = 2"),
    Q("w_ntile", "SELECT contactid, NTILE(4) OVER (ORDER BY annualincome, contactid) FROM contact "
                 "WHERE annualincome IS NOT NULL AND address1_city = 'London'"),
    # -- CTEs ---------------------------------------------------------------------------------------------------------
    Q("c_simple", "WITH big AS (SELECT accountid, address1_city FROM account WHERE revenue > 40000000) "
                  "SELECT address1_city, COUNT(*) FROM big GROUP BY address1_city"),
    Q("c_two_ctes_join", "WITH w AS (SELECT parentaccountid, SUM(actualvalue) AS won FROM opportunity WHERE statecode = 1 "
                         "GROUP BY parentaccountid), a AS (SELECT accountid, name FROM account WHERE address1_country = 'Canada') "
                         "SELECT a.accountid, a.name, w.won FROM a JOIN w ON w.parentaccountid = a.accountid"),
    Q("c_recursive_bu", "WITH tree AS (SELECT businessunitid, name, 0 AS depth FROM businessunit "
                        "WHERE parentbusinessunitid IS NULL UNION ALL SELECT b.businessunitid, b.name, t.depth + 1 "
                        "FROM businessunit b JOIN tree t ON b.parentbusinessunitid = t.businessunitid) "
                        "SELECT name, depth FROM tree",
      ref="WITH RECURSIVE tree AS (SELECT businessunitid, name, 0 AS depth FROM businessunit "
          "WHERE parentbusinessunitid IS NULL UNION ALL SELECT b.businessunitid, b.name, t.depth + 1 "
          "FROM businessunit b JOIN tree t ON b.parentbusinessunitid = t.businessunitid) SELECT name, depth FROM tree"),
    # -- DISTINCT -------------------------------------------------------------------------------------------------------
    Q("d_country", "SELECT DISTINCT address1_country FROM account", remote=True),
    Q("d_city_country", "SELECT DISTINCT address1_city, address1_country FROM account"),
    Q("d_choice_with_null", "SELECT DISTINCT industrycode FROM account"),
    Q("d_label", "SELECT DISTINCT industrycodename FROM account"),
    Q("d_upper", "SELECT DISTINCT UPPER(address1_city) FROM account"),
    Q("d_case_insensitive_count", "SELECT COUNT(*) FROM (SELECT DISTINCT x FROM (SELECT UPPER(address1_city) AS x "
                                  "FROM account UNION ALL SELECT LOWER(address1_city) FROM account) u) d"),
    Q("d_count_distinct_jobtitle", "SELECT COUNT(DISTINCT jobtitle) FROM contact"),
    # -- ORDER BY: ties, NULLs ---------------------------------------------------------------------------------------------
    Q("o_name", f"{A} FROM account WHERE address1_city = 'Seattle' ORDER BY name, accountid", order="ordered",
      remote=True, pushed=("$orderby=",)),
    Q("o_revenue_nulls_first_ties", "SELECT revenue, accountid FROM account WHERE address1_city = 'Austin' ORDER BY revenue",
      order=(0,)),
    Q("o_revenue_desc_nulls_last", "SELECT revenue, accountid FROM account WHERE address1_city = 'Austin' "
                                   "ORDER BY revenue DESC, accountid", order="ordered", remote=True),
    Q("o_city_name", "SELECT address1_city, name FROM account WHERE address1_country = 'Germany' ORDER BY address1_city, name",
      order="ordered"),
    Q("o_choice_desc", "SELECT industrycode, accountid FROM account WHERE address1_city = 'Denver' "
                       "ORDER BY industrycode DESC, accountid", order="ordered"),
    Q("o_choice_label", "SELECT industrycodename, accountid FROM account WHERE address1_city = 'Denver' "
                        "ORDER BY industrycodename, accountid", order="ordered"),
    Q("o_lookup_guid", "SELECT primarycontactid, accountid FROM account WHERE address1_city = 'Boston' "
                       "ORDER BY primarycontactid, accountid", order="ordered"),
    Q("o_lookup_name", "SELECT primarycontactidname, accountid FROM account WHERE address1_city = 'Boston' "
                       "ORDER BY primarycontactidname, accountid", order="ordered"),
    Q("o_expression", "SELECT accountid, LEN(name) FROM account WHERE address1_city = 'Paris' ORDER BY LEN(name) DESC, accountid",
      ref="SELECT accountid, LENGTH(name) FROM account WHERE address1_city = 'Paris' "
          "ORDER BY LENGTH(name) DESC, accountid", order="ordered"),
    Q("o_not_selected", "SELECT accountid FROM account WHERE address1_city = 'Paris' ORDER BY createdon, accountid",
      order="ordered"),
    Q("o_ordinal", "SELECT accountid, numberofemployees FROM account WHERE address1_city = 'Atlanta' ORDER BY 2 DESC, 1",
      order="ordered"),
    Q("o_date_nulls", "SELECT birthdate, contactid FROM contact WHERE address1_city = 'Tokyo' ORDER BY birthdate, contactid",
      order="ordered"),
    Q("o_string_nulls_limit", "SELECT emailaddress1, accountid FROM account ORDER BY emailaddress1, accountid LIMIT 10",
      order="ordered"),
    Q("o_ties_only_key", "SELECT address1_city FROM account ORDER BY address1_city", order="ordered"),
    Q("o_key_order", "SELECT accountid FROM account ORDER BY accountid", order="ordered", remote=True),
    Q("o_entity_set_desc", "SELECT isocurrencycode, exchangerate FROM transactioncurrencies ORDER BY exchangerate DESC",
      order="ordered"),
    # -- LIMIT / OFFSET / TOP --------------------------------------------------------------------------------------------
    Q("l_top_ordered", "SELECT TOP 10 accountid, name FROM account ORDER BY name, accountid", order="ordered",
      ref="SELECT accountid, name FROM account ORDER BY name, accountid LIMIT 10", remote=True),
    Q("l_limit_desc", "SELECT accountid, revenue FROM account ORDER BY revenue DESC, accountid LIMIT 7", order="ordered",
      remote=True),
    Q("l_limit_offset", "SELECT accountid FROM account ORDER BY accountid LIMIT 5 OFFSET 10", order="ordered"),
    Q("l_offset_fetch", "SELECT accountid FROM account ORDER BY accountid OFFSET 2490 ROWS FETCH NEXT 20 ROWS ONLY",
      ref="SELECT accountid FROM account ORDER BY accountid LIMIT 20 OFFSET 2490", order="ordered"),
    Q("l_top_filtered", "SELECT TOP 3 accountid, revenue FROM account WHERE address1_city = 'Dublin' "
                        "ORDER BY revenue DESC, accountid",
      ref="SELECT accountid, revenue FROM account WHERE address1_city = 'Dublin' ORDER BY revenue DESC, accountid LIMIT 3",
      order="ordered"),
    Q("l_limit_zero", "SELECT accountid FROM account LIMIT 0"),
    Q("l_limit_beyond", "SELECT transactioncurrencyid FROM transactioncurrency ORDER BY transactioncurrencyid LIMIT 100",
      ref="SELECT transactioncurrencyid FROM transactioncurrency ORDER BY transactioncurrencyid LIMIT 100",
      order="ordered"),
    Q("l_top_unordered_count", "SELECT COUNT(*) FROM (SELECT TOP 10 accountid FROM account) t",
      ref="SELECT COUNT(*) FROM (SELECT accountid FROM account LIMIT 10) t"),
    Q("l_limit_across_pages", "SELECT accountid, name FROM account ORDER BY accountid LIMIT 1500", order="ordered"),
    Q("l_all_rows_paged", "SELECT accountid, name, revenue, createdon FROM account", remote=True),
    Q("l_group_top", "SELECT TOP 3 address1_city, COUNT(*) AS n FROM account GROUP BY address1_city "
                     "ORDER BY COUNT(*) DESC, address1_city",
      ref="SELECT address1_city, COUNT(*) AS n FROM account GROUP BY address1_city "
          "ORDER BY COUNT(*) DESC, address1_city LIMIT 3", order="ordered"),
    # -- set operations --------------------------------------------------------------------------------------------------
    Q("u_union", "SELECT address1_city FROM account UNION SELECT address1_city FROM contact"),
    Q("u_union_all", "SELECT accountid AS id FROM account WHERE address1_city = 'Tokyo' "
                     "UNION ALL SELECT contactid FROM contact WHERE address1_city = 'Tokyo'"),
    Q("u_intersect", "SELECT lastname FROM contact INTERSECT SELECT lastname FROM systemuser"),
    Q("u_except", "SELECT address1_city FROM account WHERE revenue > 49000000 "
                  "EXCEPT SELECT address1_city FROM contact WHERE gendercode = 1 AND familystatuscode = 4"),
    Q("u_union_ordered_limit", "SELECT name FROM businessunit UNION SELECT name FROM team ORDER BY name", order="ordered"),
    Q("u_intersect_ci_count", "SELECT COUNT(*) FROM (SELECT UPPER(address1_city) AS c FROM account "
                              "INTERSECT SELECT LOWER(address1_city) FROM contact) t"),
    Q("u_except_ids", "SELECT accountid FROM account WHERE address1_city = 'Berlin' "
                      "EXCEPT SELECT parentcustomerid FROM contact"),
    # -- traps for pushdown: parameters of every type, special characters, LEFT JOIN conditions -----------------
    Q("p_null_param", f"{A} FROM account WHERE emailaddress1 = ?", params=(None,)),
    Q("p_quote_param", f"{C}, lastname FROM contact WHERE lastname = ?", params=("O'Brian",), remote=True),
    Q("p_like_param", f"{A} FROM account WHERE name LIKE ?", params=("%& co.",), remote=True),
    Q("p_decimal_param", f"{A}, revenue FROM account WHERE revenue = ?", params=(Decimal("32960000.00"),),
      remote=True),
    Q("p_datetime_param", f"{A}, createdon FROM account WHERE createdon > ? AND address1_city = 'Tokyo'",
      params=(datetime(2024, 1, 1, 12, 30, tzinfo=timezone.utc),), remote=True),
    Q("p_date_param", f"{C}, birthdate FROM contact WHERE birthdate < ?", params=(date(1955, 1, 1),), remote=True),
    Q("p_uuid_param", f"{A} FROM account WHERE primarycontactid = ?",
      params=(FromReference("SELECT primarycontactid FROM account WHERE primarycontactid IS NOT NULL "
                            "ORDER BY accountid LIMIT 1"),), remote=True),
    Q("p_int_params_in", f"{A}, industrycode FROM account WHERE industrycode IN (?, ?) AND address1_city = ?",
      params=(7, 9, "Berlin"), remote=True),
    Q("p_special_chars_literal", f"{A} FROM account WHERE name = 'Ski Relecloud & Co.' OR name = 'a#b?c%d+e/f'",
      remote=True),
    Q("p_in_strings_quotes", f"{C}, lastname FROM contact WHERE lastname IN ('O''Brian', 'Müller', 'nguyen')",
      remote=True),
    Q("p_date_eq", f"{C}, birthdate FROM contact WHERE birthdate = '1975-11-19'", remote=True),
    Q("p_datetime_between", f"{A}, createdon FROM account WHERE createdon BETWEEN '2020-01-01' "
                            "AND '2020-01-31T23:59:59Z'", remote=True),
    Q("p_empty_string", f"{A} FROM account WHERE name IS NOT NULL AND name <> '' AND address1_city = 'Madrid'"),
    Q("s_in_select_large", f"{C} FROM contact WHERE parentcustomerid IN "
                           "(SELECT accountid FROM account WHERE revenue > 1000000)"),
    Q("s_not_in_select_large", f"{C} FROM contact WHERE parentcustomerid NOT IN "
                               "(SELECT accountid FROM account WHERE revenue > 1000000)"),
    Q("j_left_on_extra_condition", "SELECT a.accountid, c.contactid FROM account a LEFT JOIN contact c "
                                   "ON a.primarycontactid = c.contactid AND c.gendercode = 2 "
                                   "WHERE a.address1_city = 'Seattle'"),
    Q("j_left_where_right", "SELECT a.accountid, c.lastname FROM account a LEFT JOIN contact c "
                            "ON a.primarycontactid = c.contactid WHERE c.lastname = 'smith'"),
    Q("j_left_anti", "SELECT a.accountid FROM account a LEFT JOIN contact c ON a.primarycontactid = c.contactid "
                     "WHERE c.contactid IS NULL AND a.address1_city = 'Paris'"),
    Q("j_parent_filter", "SELECT child.accountid, parent.name FROM account child "
                         "JOIN account parent ON child.parentaccountid = parent.accountid "
                         "WHERE parent.address1_country = 'canada' AND child.revenue > 10000000"),
    Q("j_order_by_joined", "SELECT a.accountid, c.fullname FROM account a JOIN contact c "
                           "ON a.primarycontactid = c.contactid WHERE a.address1_city = 'Dublin' "
                           "ORDER BY c.fullname, a.accountid", order="ordered"),
    Q("j_or_across_sides", "SELECT a.accountid, c.contactid FROM account a JOIN contact c "
                           "ON a.primarycontactid = c.contactid WHERE a.address1_city = 'Tokyo' OR c.address1_city = 'Tokyo'"),
    Q("a_group_lookup_name_top", "SELECT TOP 5 owneridname, COUNT(*) AS n FROM account GROUP BY owneridname "
                                 "ORDER BY n DESC, owneridname",
      ref="SELECT owneridname, COUNT(*) AS n FROM account GROUP BY owneridname ORDER BY n DESC, owneridname LIMIT 5",
      order="ordered"),
    Q("a_group_datetime", "SELECT lastusedincampaign, COUNT(*) FROM account WHERE lastusedincampaign IS NOT NULL "
                          "GROUP BY lastusedincampaign"),
    Q("a_count_distinct_choice", "SELECT COUNT(DISTINCT industrycode), COUNT(DISTINCT address1_country) FROM account"),
    Q("a_max_datetime_filtered", "SELECT MAX(createdon), MIN(lastusedincampaign) FROM account WHERE statecode = 1"),
    Q("a_group_order_key_limit", "SELECT address1_country, SUM(revenue) FROM account GROUP BY address1_country "
                                 "ORDER BY address1_country DESC LIMIT 3", order="ordered"),
    Q("a_sum_money_by_currency", "SELECT t.isocurrencycode, SUM(a.revenue), AVG(a.exchangerate) FROM account a "
                                 "JOIN transactioncurrency t ON a.transactioncurrencyid = t.transactioncurrencyid "
                                 "GROUP BY t.isocurrencycode"),
    Q("d_top_distinct", "SELECT DISTINCT TOP 5 address1_city FROM account ORDER BY address1_city",
      ref="SELECT DISTINCT address1_city FROM account ORDER BY address1_city LIMIT 5", order="ordered"),
    # -- other tables ------------------------------------------------------------------------------------------------------
    Q("t_systemuser_choice", "SELECT fullname, accessmode, accessmodename, businessunitidname FROM systemuser "
                             "WHERE accessmode = 4"),
    Q("t_systemuser_all", "SELECT systemuserid, fullname, domainname, isdisabled, createdon, parentsystemuseridname "
                          "FROM systemuser", remote=True),
    Q("t_team", "SELECT name, teamtype, teamtypename, isdefault, administratoridname FROM team"),
    Q("t_currency", "SELECT currencyname, isocurrencycode, currencysymbol, exchangerate, currencyprecision, statecodename "
                    "FROM transactioncurrency"),
    Q("t_bu_root", "SELECT name, divisionname FROM businessunit WHERE parentbusinessunitid IS NULL", remote=True),
    Q("t_contact_all_types", "SELECT contactid, birthdate, annualincome, createdon, donotemail, gendercode, gendercodename, "
                             "parentcustomerid, parentcustomeridname, parentcustomeridtype FROM contact", remote=True),
    Q("t_opportunity_all_types", "SELECT opportunityid, estimatedvalue, estimatedclosedate, actualclosedate, closeprobability, "
                                 "salesstage, salesstagename, customerid, customeridtype FROM opportunity", remote=True),
    Q("t_account_wide", "SELECT accountid, accountnumber, telephone1, websiteurl, description, exchangerate, "
                        "address1_latitude, address1_longitude, modifiedon, versionnumber, owningbusinessunitname, "
                        "customertypecodename, ownershipcodename FROM account", remote=True),
]
