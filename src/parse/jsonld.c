/*
 * jsonld.c: schema.org vehicles in JSON-LD, as real sites publish them.
 *
 * A Car (Vehicle, Motorcycle, ...) may be the script's object, an element of
 * an array or of "@graph", a WebPage's mainEntity, or the itemOffered of a
 * Product's offers (AutoScout24: Product -> offers -> itemOffered Car).
 * Values may be text, a Thing with a name (brand, manufacturer, model), a
 * QuantitativeValue with a UN/CEFACT unit code (mileage KMT or SMI, power
 * KWT or BHP, displacement CMQ or LTR), an array of either (a car with
 * several engine powers), a date (productionDate 2023-05-01 gives the year)
 * or a schema.org enumeration URL (https://schema.org/UsedCondition).  The
 * words themselves (Stroom, Automatisch, Achter) are mapped by the
 * vocabulary, like every site's.  Nesting is followed MAX_NESTING levels
 * deep; one object is read once per level, so the work is linear in the
 * script.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "parse/extract.h"

#define MAX_NESTING 4

/* Is this text valid JSON?  (pg_parse_json reports, it does not throw.) */
static bool
json_valid(char *s, int len)
{
	JsonLexContext *lex = makeJsonLexContextCstringLen(s, len, PG_UTF8, true);

	return pg_parse_json(lex, &nullSemAction) == JSON_SUCCESS;
}

/* A schema.org name without its namespace: "https://schema.org/Car" is "Car". */
static const char *
local_name(const char *s)
{
	const char *slash = strrchr(s, '/');

	return (strncmp(s, "http://schema.org/", 18) == 0 || strncmp(s, "https://schema.org/", 19) == 0) ? slash + 1 : s;
}

/* The elements of j as Jsonb: j's own elements when it is an array, else j alone. */
static List *
elements(Jsonb *j)
{
	List	   *out = NIL;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (j == NULL)
		return NIL;
	if (!JB_ROOT_IS_ARRAY(j) || JB_ROOT_IS_SCALAR(j))
		return list_make1(j);
	it = JsonbIteratorInit(&j->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
			out = lappend(out, JsonbValueToJsonb(&v));
	return out;
}

/*
 * A value as text: a scalar, a Thing's name, the first of an array (arrays
 * of arrays MAX_NESTING deep at most: a loop, not recursion); an
 * enumeration URL's name.
 */
static char *
text_of(Jsonb *j)
{
	JsonbValue	v;

	for (int depth = 0; j != NULL && depth <= MAX_NESTING; depth++)
	{
		JsonbValue *first;

		if (JB_ROOT_IS_SCALAR(j))
		{
			if (!JsonbExtractScalar(&j->root, &v))
				return NULL;
			if (v.type == jbvString)
				return pstrdup(local_name(pnstrdup(v.val.string.val, v.val.string.len)));
			if (v.type == jbvNumeric)
				return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
			return NULL;
		}
		if (JB_ROOT_IS_OBJECT(j))
			return jsonb_get_text(j, "name");
		/* an array: its first element (read without copying the others) */
		first = getIthJsonbValueFromContainer(&j->root, 0);
		j = first ? JsonbValueToJsonb(first) : NULL;
	}
	return NULL;
}

/* Is o an object whose @type (a name or an array of names) is one of types? */
static bool
is_type(Jsonb *o, const char *const *types)
{
	ListCell   *lc;

	if (o == NULL || !JB_ROOT_IS_OBJECT(o))
		return false;
	foreach(lc, elements(jsonb_get(o, "@type")))
	{
		char	   *name = text_of(lfirst(lc));

		for (int i = 0; name && types[i]; i++)
			if (strcmp(name, types[i]) == 0)
				return true;
	}
	return false;
}

static char *
member_text(Jsonb *o, const char *key)
{
	return text_of(jsonb_get(o, key));
}

/* productionDate "2023-05-01", a model year "2019": the year, as text. */
static char *
year_of(Jsonb *o, const char *key)
{
	char	   *t = member_text(o, key);

	if (t == NULL || strlen(t) < 4 || !isdigit((unsigned char) t[0]) || !isdigit((unsigned char) t[1]) ||
		!isdigit((unsigned char) t[2]) || !isdigit((unsigned char) t[3]) || isdigit((unsigned char) t[4]))
		return NULL;
	return pnstrdup(t, 4);
}

/*
 * A quantity in a unit: the value of the first QuantitativeValue of v (one
 * or an array) whose unitCode or unitText is one of units, times factor.
 * With bare, a number or text, or a value without a unit, counts as in units.
 * NULL when none is.
 */
static char *
quantity(Jsonb *v, const char *const *units, double factor, bool bare)
{
	ListCell   *lc;

	foreach(lc, elements(v))
	{
		Jsonb	   *q = lfirst(lc);
		char	   *value,
				   *unit;
		bool		match = false;

		if (!JB_ROOT_IS_OBJECT(q))
		{
			if (bare)
				return text_of(q);
			continue;
		}
		value = jsonb_get_text(q, "value");
		unit = jsonb_get_text(q, "unitCode");
		if (unit == NULL)
			unit = jsonb_get_text(q, "unitText");
		for (int i = 0; units[i] && unit; i++)
			match |= pg_strcasecmp(unit, units[i]) == 0;
		if (value && (match || (unit == NULL && bare)))
		{
			char	   *end;
			double		d = strtod(value, &end);

			if (factor == 1.0 || end == value)
				return value;
			return psprintf("%.0f", d * factor);
		}
	}
	return NULL;
}

static const char *const KM[] = {"KMT", "km", NULL};
static const char *const MILES[] = {"SMI", "mi", "miles", NULL};
static const char *const KW[] = {"KWT", "kW", NULL};
static const char *const HP[] = {"BHP", "HP", "N12", "PS", "CV", NULL};
static const char *const CC[] = {"CMQ", "cm3", "ccm", "cc", NULL};
static const char *const LITRES[] = {"LTR", "l", NULL};

/* The fields of a Car or Vehicle (or a Product standing for one). */
static void
take_vehicle(Extract *x, Jsonb *o)
{
	static const char *const year_keys[] = {"vehicleModelDate", "modelDate", "productionDate", "dateVehicleFirstRegistered", NULL};
	char	   *t;
	ListCell   *lc;

	set_field(x, "title", SRC_JSONLD, member_text(o, "name"));
	set_field(x, "make", SRC_JSONLD, member_text(o, "brand"));
	set_field(x, "make", SRC_JSONLD, member_text(o, "manufacturer"));
	set_field(x, "model", SRC_JSONLD, member_text(o, "model"));
	for (int i = 0; year_keys[i]; i++)
		set_field(x, "year", SRC_JSONLD, year_of(o, year_keys[i]));
	set_field(x, "body", SRC_JSONLD, member_text(o, "bodyType"));
	set_field(x, "color", SRC_JSONLD, member_text(o, "color"));
	set_field(x, "gearbox", SRC_JSONLD, member_text(o, "vehicleTransmission"));
	set_field(x, "drive", SRC_JSONLD, member_text(o, "driveWheelConfiguration"));
	set_field(x, "doors", SRC_JSONLD, member_text(o, "numberOfDoors"));
	set_field(x, "seats", SRC_JSONLD, member_text(o, "seatingCapacity"));
	set_field(x, "condition", SRC_JSONLD, member_text(o, "itemCondition"));
	set_field(x, "url", SRC_JSONLD, member_text(o, "url"));
	t = quantity(jsonb_get(o, "mileageFromOdometer"), KM, 1.0, true);
	set_field(x, "mileage_km", SRC_JSONLD, t ? t : quantity(jsonb_get(o, "mileageFromOdometer"), MILES, 1.609344, false));
	set_field(x, "fuel", SRC_JSONLD, member_text(o, "fuelType"));
	foreach(lc, elements(jsonb_get(o, "vehicleEngine")))
	{
		Jsonb	   *eng = lfirst(lc);
		Jsonb	   *cc;

		if (!JB_ROOT_IS_OBJECT(eng))
		{
			set_field(x, "power_kw", SRC_JSONLD, text_of(eng));	/* "105.00 KWT" */
			continue;
		}
		set_field(x, "fuel", SRC_JSONLD, member_text(eng, "fuelType"));
		set_field(x, "power_kw", SRC_JSONLD, quantity(jsonb_get(eng, "enginePower"), KW, 1.0, true));
		set_field(x, "power_hp", SRC_JSONLD, quantity(jsonb_get(eng, "enginePower"), HP, 1.0, false));
		cc = jsonb_get(eng, "engineDisplacement");
		t = quantity(cc, CC, 1.0, true);
		set_field(x, "engine_cc", SRC_JSONLD, t ? t : quantity(cc, LITRES, 1000.0, false));
	}
}

/* An Offer: the price in euros, the condition, the seller and where the car is. */
static void
take_offer(Extract *x, Jsonb *offer)
{
	char	   *cur = member_text(offer, "priceCurrency");
	Jsonb	   *seller = jsonb_get(offer, "offeredBy");
	Jsonb	   *address;

	if (cur == NULL || strcmp(cur, "EUR") == 0)
		set_field(x, "price", SRC_JSONLD, member_text(offer, "price"));
	set_field(x, "condition", SRC_JSONLD, member_text(offer, "itemCondition"));
	set_field(x, "url", SRC_JSONLD, member_text(offer, "url"));
	if (seller == NULL)
		seller = jsonb_get(offer, "seller");
	if (seller && JB_ROOT_IS_OBJECT(seller))
	{
		static const char *const business[] = {"AutoDealer", "AutomotiveBusiness", "Organization", "LocalBusiness",
		"AutoRental", NULL};

		if (is_type(seller, business))
			set_field(x, "seller_name", SRC_JSONLD, member_text(seller, "name"));
		address = jsonb_get(seller, "address");
		if (address && JB_ROOT_IS_OBJECT(address))
		{
			set_field(x, "location", SRC_JSONLD, member_text(address, "addressLocality"));
			set_field(x, "region", SRC_JSONLD, member_text(address, "addressRegion"));
		}
	}
}

/*
 * Walk one object: containers (@graph, mainEntity) are followed, a
 * vehicle's offers and their itemOffered too, the item before the Product
 * around it, so that the car's own name and fields come first (set_field
 * keeps the first of one source).
 */
static void
take_object(Extract *x, Jsonb *o, int depth)
{
	static const char *const vehicle[] = {"Car", "Vehicle", "Motorcycle", "MotorizedBicycle", "BusOrCoach", NULL};
	static const char *const product[] = {"Product", "IndividualProduct", "ProductModel", NULL};
	static const char *const offer[] = {"Offer", "AggregateOffer", NULL};
	ListCell   *lc;

	if (o == NULL || !JB_ROOT_IS_OBJECT(o) || depth > MAX_NESTING)
		return;
	CHECK_FOR_INTERRUPTS();
	foreach(lc, elements(jsonb_get(o, "@graph")))
		take_object(x, lfirst(lc), depth + 1);
	take_object(x, jsonb_get(o, "mainEntity"), depth + 1);
	if (is_type(o, offer))
	{
		take_object(x, jsonb_get(o, "itemOffered"), depth + 1);
		take_offer(x, o);
	}
	else if (is_type(o, vehicle) || is_type(o, product))
	{
		foreach(lc, elements(jsonb_get(o, "offers")))
			if (JB_ROOT_IS_OBJECT((Jsonb *) lfirst(lc)))
			{
				take_object(x, jsonb_get(lfirst(lc), "itemOffered"), depth + 1);
				take_offer(x, lfirst(lc));
				break;			/* the first offer */
			}
		take_vehicle(x, o);
	}
}

/* One application/ld+json script's body. */
void
take_jsonld(Extract *x, char *body)
{
	ListCell   *lc;

	if (!json_valid(body, strlen(body)))
		return;
	foreach(lc, elements(DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(body)))))
		take_object(x, lfirst(lc), 0);
}
