# ruff: noqa: E501  (the samples keep each export's rows whole, as the platforms write them)
"""Sample member exports, each made to its platform's documented format (sources per sample).

The addresses are invented; the columns, their order and the shape of the values are the
platforms'. Paid members name Stripe customers the tests create in the Stripe fake.
"""

# Substack "Total Email List" export: email, active_subscription, expiry, email_disabled,
# prefer_digests, created_at. Source: TryGhost/migrate, packages/mg-substack-members-csv
# (test/fixtures/fixtures_signup_emails.csv and lib/parse-members-csv.js). Readers who turned
# email off have email_disabled=true; deletion requests arrive @deletion-request.substack.com.
SUBSTACK_EMAIL_LIST = """\
email,active_subscription,expiry,email_disabled,prefer_digests,created_at
free.reader@example.com,false,,false,false,2021-03-02T10:11:12.000Z
left.email@example.com,false,,true,false,2020-05-06T07:08:09.123Z
paid.one@example.com,true,2027-01-10T16:20:44.000Z,false,false,2019-08-27T15:06:27.713Z
comped@example.com,true,2118-09-11T12:14:56.557Z,false,false,2018-09-08T00:19:14.583Z
x7f3@deletion-request.substack.com,false,,false,false,2022-01-01T00:00:00.000Z
not an address,false,,false,false,2022-01-01T00:00:00.000Z
"""

# Substack "Subscribers" export (paid, comp and gift members): email, expiry, email_disabled,
# prefer_digests, stripe_connected_customer_id, type. Source: TryGhost/migrate,
# packages/mg-substack-members-csv (test/fixtures/fixtures_subscriber_emails.csv,
# lib/process.js: `paid` with a customer id pays through Stripe; comp and gift do not).
SUBSTACK_SUBSCRIBERS = """\
email,expiry,email_disabled,prefer_digests,stripe_connected_customer_id,type
paid.one@example.com,2027-01-10T16:20:44.000Z,false,false,{paid_one},paid
comped@example.com,2118-09-11T12:14:56.557Z,false,false,,comp
gifted@example.com,2027-06-01T00:00:00.000Z,false,false,,gift
group.member@example.com,2027-03-01T00:00:00.000Z,false,false,,paid
"""

# beehiiv subscribers export: email, First Name, Last Name, status, tier, created_at,
# stripe_customer_id, one "<name> Tier" Yes/No column per tier, unsubscribed_at, and the
# Substack subscription date for lists beehiiv imported. Source: TryGhost/migrate,
# packages/mg-beehiiv-members (src/test/fixtures/members.csv, src/lib/process.ts). Statuses:
# active, inactive, pending, validating, invalid, needs_attention (beehiiv's API v2).
BEEHIIV = """\
email,First Name,Last Name,status,tier,created_at,stripe_customer_id,Free Tier,Gold Tier,unsubscribed_at,Subscription Date (Substack)
lorem@example.com, Lorem  ,Ipsum,active,free,2023-03-24 10:23:10 UTC,,Yes,No,,
gone@example.com,,,inactive,free,2023-03-24 10:36:48 UTC,,Yes,No,2024-01-02 09:00:00 UTC,
waiting@example.com,,,pending,free,2023-04-11 14:02:46 UTC,,Yes,No,,
premium@example.com,Prem,,active,premium,2023-04-11 14:02:46 UTC,{premium},No,Yes,,
premium.noid@example.com,,,active,premium,2023-04-11 14:02:47 UTC,,No,Yes,,
odd@example.com,,,frozen,free,2023-04-11 14:02:47 UTC,,Yes,No,,
"""

# Ghost members export: id, email, name, note, subscribed_to_emails, complimentary_plan,
# stripe_customer_id, created_at, deleted_at, labels, tiers. Source: TryGhost/Ghost,
# ghost/members-csv (unparse's header, and the admin API's export test).
GHOST = """\
id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,created_at,deleted_at,labels,tiers
6123a1b2c3d4e5f600000001,dana@example.com,Dana Scully,,true,false,,2022-01-01T00:00:00.000Z,,"vip,podcast",
6123a1b2c3d4e5f600000002,paying@example.com,Paying Reader,Early supporter,true,false,{paying},2022-02-01T00:00:00.000Z,,,Supporter
6123a1b2c3d4e5f600000003,quiet@example.com,,,false,false,,2022-03-01T00:00:00.000Z,,,
6123a1b2c3d4e5f600000004,comp@example.com,Comp Reader,,true,true,,2022-04-01T00:00:00.000Z,,,Supporter
6123a1b2c3d4e5f600000005,deleted@example.com,,,true,false,,2022-05-01T00:00:00.000Z,2023-01-01T00:00:00.000Z,,
6123a1b2c3d4e5f600000006,bad-id@example.com,,,true,false,acct_123,2022-06-01T00:00:00.000Z,,,
"""

# Kit (ConvertKit) subscribers export: first_name, email_address, state, created_at, tags (and
# one column per custom field). States as Kit's API v4 names them: active, inactive (never
# confirmed), cancelled, bounced, complained. Sources: Kit's API v4 subscriber object
# (developers.kit.com, list subscribers) and Kit's help on subscriber states.
KIT = """\
first_name,email_address,state,created_at,tags
Maja,maja@example.com,active,2025-03-03T10:00:00Z,"creators,vip"
Nils,nils@example.com,inactive,2025-04-04T10:00:00Z,
Olga,olga@example.com,cancelled,2025-04-05T10:00:00Z,
Pia,pia@example.com,bounced,2025-04-06T10:00:00Z,
Quin,quin@example.com,complained,2025-04-07T10:00:00Z,
Rut,rut@example.com,sleeping,2025-04-08T10:00:00Z,
"""
