"""Write prodcat's default catalog and the CI fixture, deterministically.

The catalog is synthetic but shaped like a real shop's: product nouns, materials, colours,
features and uses per category, combined by several sentence templates, with the noise real
catalogs have (shared generic words, capitals, accents, units, the odd typo).

    python scripts/make_dataset.py        # writes data/raw/catalog.csv and the test fixture
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

SEED = 20261124
COLOURS = (
    "black",
    "white",
    "navy",
    "olive",
    "grey",
    "red",
    "burgundy",
    "beige",
    "charcoal",
    "teal",
    "sand",
    "cream",
    "forest green",
    "sky blue",
    "rose",
    "mustard",
    "silver",
    "gold",
    "brown",
)
GENERIC = (
    "premium",
    "classic",
    "everyday",
    "lightweight",
    "durable",
    "gift idea",
    "bestseller",
    "new season",
    "eco-friendly",
    "waterproof",
    "limited edition",
    "travel-ready",
    "compact",
)
BRANDS = (
    "Northpeak",
    "Alder & Co",
    "Maison Lumière",
    "Brixton Lane",
    "Kestrel",
    "Oakridge",
    "Solvo",
    "Tidewell",
    "Urbanfold",
    "Vireo",
    "Hallstatt",
    "Copperleaf",
    "Nordvik",
    "Café Atelier",
)

CATEGORIES: dict[str, dict[str, tuple[str, ...]]] = {
    "footwear": {
        "nouns": (
            "hiking boots",
            "running shoes",
            "sneakers",
            "ankle boots",
            "sandals",
            "loafers",
            "trail runners",
            "chelsea boots",
            "slip-on shoes",
            "espadrilles",
            "clogs",
            "court shoes",
            "high-top trainers",
            "derby shoes",
            "snow boots",
        ),
        "materials": (
            "full-grain leather",
            "suede",
            "breathable mesh",
            "canvas",
            "nubuck",
            "recycled knit",
            "rubber",
        ),
        "features": (
            "ankle support",
            "a cushioned midsole",
            "a grippy Vibram-style outsole",
            "a padded collar",
            "removable insoles",
            "a wide toe box",
            "reinforced toe caps",
            "speed lacing",
            "a heel pull tab",
            "arch support",
        ),
        "uses": (
            "mountain trails",
            "daily runs",
            "city walks",
            "the office",
            "summer holidays",
            "wet winter days",
            "long shifts on your feet",
            "weekend hikes",
        ),
        "sizes": ("EU 38", "EU 42", "UK 9", "US 10.5", "size 44", "wide fit"),
    },
    "outerwear": {
        "nouns": (
            "rain jacket",
            "down parka",
            "puffer jacket",
            "wool coat",
            "trench coat",
            "fleece jacket",
            "softshell jacket",
            "windbreaker",
            "quilted vest",
            "anorak",
            "peacoat",
            "bomber jacket",
            "insulated gilet",
            "duffle coat",
        ),
        "materials": (
            "Gore-Tex style membrane",
            "recycled polyester",
            "merino wool blend",
            "duck down",
            "ripstop nylon",
            "waxed cotton",
            "sherpa fleece",
        ),
        "features": (
            "a detachable hood",
            "taped seams",
            "two-way zip",
            "storm flaps",
            "zippered hand pockets",
            "an adjustable hem",
            "packable design",
            "a high collar",
            "700-fill insulation",
            "pit zips",
        ),
        "uses": (
            "wet commutes",
            "alpine weekends",
            "cold city mornings",
            "autumn walks",
            "ski trips",
            "windy coastal hikes",
            "layering in winter",
        ),
        "sizes": ("size M", "size L", "XL", "XS", "men's 40R", "women's 12"),
    },
    "tops": {
        "nouns": (
            "t-shirt",
            "oxford shirt",
            "polo shirt",
            "blouse",
            "henley",
            "tank top",
            "crew-neck sweater",
            "hoodie",
            "cardigan",
            "linen shirt",
            "turtleneck",
            "long-sleeve tee",
            "sweatshirt",
            "camisole",
        ),
        "materials": (
            "organic cotton",
            "linen",
            "merino wool",
            "cotton jersey",
            "silk",
            "brushed flannel",
            "bamboo viscose",
            "cashmere blend",
        ),
        "features": (
            "a relaxed fit",
            "a button-down collar",
            "ribbed cuffs",
            "a chest pocket",
            "short sleeves",
            "a slim fit",
            "a kangaroo pocket",
            "a V-neck",
            "mother-of-pearl buttons",
            "a drop shoulder",
        ),
        "uses": (
            "casual Fridays",
            "layering",
            "warm evenings",
            "the gym",
            "lounging at home",
            "smart-casual dinners",
            "beach holidays",
        ),
        "sizes": ("size S", "size M", "L", "XXL", "UK 10", "regular fit"),
    },
    "bottoms": {
        "nouns": (
            "slim-fit jeans",
            "chinos",
            "cargo trousers",
            "joggers",
            "pleated skirt",
            "denim shorts",
            "leggings",
            "wide-leg trousers",
            "corduroy pants",
            "midi skirt",
            "track pants",
            "bermuda shorts",
            "straight-leg jeans",
        ),
        "materials": (
            "stretch denim",
            "cotton twill",
            "corduroy",
            "recycled nylon",
            "linen blend",
            "French terry",
            "wool flannel",
        ),
        "features": (
            "a five-pocket design",
            "an elasticated waist",
            "belt loops",
            "a zip fly",
            "tapered legs",
            "a high rise",
            "side cargo pockets",
            "a drawstring",
            "a raw hem",
            "articulated knees",
        ),
        "uses": (
            "everyday wear",
            "the office",
            "weekend errands",
            "yoga",
            "summer days",
            "travel days",
            "workshop jobs",
        ),
        "sizes": ("W32 L32", "W30 L34", "size 28", "UK 12", "EU 40", "petite"),
    },
    "bags": {
        "nouns": (
            "backpack",
            "tote bag",
            "crossbody bag",
            "duffel bag",
            "laptop sleeve",
            "messenger bag",
            "handbag",
            "belt bag",
            "rolling suitcase",
            "weekender",
            "drawstring bag",
            "clutch",
            "camera bag",
            "wash bag",
        ),
        "materials": (
            "vegan leather",
            "waxed canvas",
            "ballistic nylon",
            "pebbled leather",
            "recycled PET",
            "jute",
            "polycarbonate shell",
        ),
        "features": (
            "a padded 15-inch laptop compartment",
            "an adjustable shoulder strap",
            "YKK zips",
            "a luggage pass-through",
            "RFID-blocking pocket",
            "spinner wheels",
            "a magnetic snap",
            "internal organiser pockets",
            "a detachable strap",
            "a water bottle pocket",
        ),
        "uses": (
            "commuting",
            "carry-on travel",
            "the gym",
            "market runs",
            "business trips",
            "festivals",
            "school",
        ),
        "sizes": ("20 L", "35 L", "40 x 30 x 15 cm", "55 cm cabin size", "mini", "oversized"),
    },
    "jewelry_watches": {
        "nouns": (
            "pendant necklace",
            "stud earrings",
            "chronograph watch",
            "charm bracelet",
            "signet ring",
            "hoop earrings",
            "smart analog watch",
            "cufflinks",
            "anklet",
            "tennis bracelet",
            "dive watch",
            "engagement ring",
            "brooch",
        ),
        "materials": (
            "sterling silver",
            "18k gold plating",
            "stainless steel",
            "rose gold",
            "freshwater pearls",
            "cubic zirconia",
            "titanium",
            "sapphire crystal",
        ),
        "features": (
            "a lobster clasp",
            "a 40 mm dial",
            "a quartz movement",
            "adjustable chain",
            "hypoallergenic posts",
            "luminous hands",
            "a mesh strap",
            "a date window",
            "hand-set stones",
            "a gift box",
        ),
        "uses": (
            "anniversaries",
            "everyday elegance",
            "weddings",
            "evening wear",
            "gifting",
            "stacking",
            "diving to 200 m",
        ),
        "sizes": ("45 cm chain", "ring size N", "ring size 7", "18 cm wrist", "3 ATM", "10 ATM"),
    },
    "kitchen": {
        "nouns": (
            "frying pan",
            "chef's knife",
            "saucepan",
            "cast-iron skillet",
            "cutting board",
            "french press",
            "stand mixer",
            "dutch oven",
            "salad spinner",
            "kettle",
            "espresso cups",
            "mixing bowls",
            "spatula set",
            "baking tray",
            "food storage jars",
        ),
        "materials": (
            "stainless steel",
            "cast iron",
            "acacia wood",
            "borosilicate glass",
            "enamelled steel",
            "non-stick ceramic coating",
            "BPA-free plastic",
            "Japanese VG-10 steel",
            "stoneware",
        ),
        "features": (
            "an induction-ready base",
            "a riveted handle",
            "dishwasher-safe parts",
            "a pour spout",
            "a full tang",
            "oven safe to 260°C",
            "a tight-fitting lid",
            "measurement markings",
            "a non-slip base",
            "a keep-warm function",
        ),
        "uses": (
            "searing steaks",
            "weeknight dinners",
            "meal prep",
            "baking bread",
            "morning coffee",
            "crème brûlée",
            "slow-cooked stews",
            "everyday cooking",
        ),
        "sizes": ("28 cm", "1.7 L", "500 ml", "set of 4", "20 cm blade", "5.5 qt"),
    },
    "home_decor": {
        "nouns": (
            "throw pillow",
            "table lamp",
            "wall mirror",
            "scented candle",
            "area rug",
            "picture frame",
            "ceramic vase",
            "linen curtains",
            "wall clock",
            "throw blanket",
            "plant pot",
            "bookends",
            "string lights",
            "decorative tray",
        ),
        "materials": (
            "hand-woven jute",
            "rattan",
            "glazed ceramic",
            "velvet",
            "brass",
            "reclaimed wood",
            "soy wax",
            "washed linen",
            "marble",
        ),
        "features": (
            "a hidden zip",
            "a dimmable bulb",
            "a bevelled edge",
            "a 40-hour burn time",
            "blackout lining",
            "a non-slip backing",
            "a drainage hole",
            "a silent sweep movement",
            "hand-painted details",
            "fringe trim",
        ),
        "uses": (
            "the living room",
            "a cosy bedroom",
            "the entryway",
            "a reading nook",
            "housewarming gifts",
            "boho interiors",
            "a scandi-style home",
        ),
        "sizes": ("45 x 45 cm", "160 x 230 cm", "A4", "30 cm tall", "pair", "set of 3"),
    },
    "electronics_accessories": {
        "nouns": (
            "USB-C charger",
            "wireless earbuds",
            "phone case",
            "power bank",
            "bluetooth speaker",
            "HDMI cable",
            "laptop stand",
            "wireless mouse",
            "mechanical keyboard",
            "screen protector",
            "smartwatch band",
            "webcam",
            "memory card",
            "car phone mount",
        ),
        "materials": (
            "braided nylon",
            "aluminium",
            "tempered glass",
            "silicone",
            "TPU",
            "ABS plastic",
        ),
        "features": (
            "65W fast charging",
            "active noise cancelling",
            "Bluetooth 5.3",
            "MagSafe compatibility",
            "a 20,000 mAh battery",
            "4K at 60 Hz",
            "hot-swappable switches",
            "drop protection",
            "a 1080p sensor",
            "USB-C PD",
            "32 GB capacity",
            "a 24-month warranty",
        ),
        "uses": (
            "iPhone 15",
            "Samsung Galaxy",
            "MacBook Pro",
            "home office setups",
            "gaming",
            "travel",
            "video calls",
        ),
        "sizes": ("2 m", "1 m", "6.1-inch", "128 GB", "pack of 2", "13-16 inch"),
    },
    "sports_outdoors": {
        "nouns": (
            "yoga mat",
            "camping tent",
            "sleeping bag",
            "trekking poles",
            "dumbbell set",
            "cycling helmet",
            "water bottle",
            "resistance bands",
            "climbing harness",
            "headlamp",
            "foam roller",
            "tennis racket",
            "swim goggles",
            "kettlebell",
        ),
        "materials": (
            "TPE foam",
            "carbon fibre",
            "ripstop polyester",
            "vacuum-insulated steel",
            "cast iron",
            "EPS foam",
            "natural rubber",
        ),
        "features": (
            "a carry strap",
            "a 3-season rating",
            "quick-lock clamps",
            "adjustable resistance",
            "anti-fog lenses",
            "350 lumens",
            "a comfort rating of -5°C",
            "MIPS protection",
            "a leak-proof lid",
            "a non-slip texture",
        ),
        "uses": (
            "home workouts",
            "backpacking",
            "road cycling",
            "hot yoga",
            "bouldering",
            "lap swimming",
            "trail running",
            "festival camping",
        ),
        "sizes": ("6 mm", "2-person", "750 ml", "2 x 10 kg", "size M/L", "183 x 61 cm"),
    },
}

TEMPLATES = (
    "{Material} {noun} with {feature} for {use}",
    "{brand} {noun} in {colour}, {material}, {feature}",
    "{Colour} {noun} – {material} with {feature} and {feature2}",
    "{Generic} {noun} for {use}",
    "{noun} {size} {colour}",
    "{brand} {generic} {noun}, {size}",
    "{Noun} made from {material}. Features {feature}. Ideal for {use}.",
    "{Generic} {material} {noun} with {feature}, perfect for {use} ({size})",
    "{brand} {noun}",
    "{Colour} {material} {noun}: {feature}, {feature2}, great for {use}",
    "NEW {noun} in {colour} – {generic}, {size}",
    "{Noun} for {use}, {colour}, {size}, {generic}",
)

TYPOS = {
    "with": "wiht",
    "leather": "lether",
    "jacket": "jakcet",
    "waterproof": "waterprof",
    "stainless": "stainles",
    "backpack": "bakpack",
    "charger": "chager",
}


def describe(category: str, rng: random.Random) -> str:
    """One product description of ``category``."""
    words = CATEGORIES[category]
    feature, feature2 = rng.sample(words["features"], 2)
    values = {
        "noun": rng.choice(words["nouns"]),
        "material": rng.choice(words["materials"]),
        "feature": feature,
        "feature2": feature2,
        "use": rng.choice(words["uses"]),
        "size": rng.choice(words["sizes"]),
        "colour": rng.choice(COLOURS),
        "generic": rng.choice(GENERIC),
        "brand": rng.choice(BRANDS),
    }
    values.update({key.capitalize(): _capitalise(value) for key, value in list(values.items())})
    text = rng.choice(TEMPLATES).format(**values)
    return _add_noise(text, rng)


def _capitalise(text: str) -> str:
    """``text`` with its first letter in upper case."""
    return text[:1].upper() + text[1:]


def _add_noise(text: str, rng: random.Random) -> str:
    """The small mistakes and habits of real catalogs: typos, shouting, stray spaces."""
    roll = rng.random()
    if roll < 0.04:
        for word, typo in TYPOS.items():
            if word in text:
                return text.replace(word, typo, 1)
    if roll < 0.07:
        return text.upper()
    if roll < 0.10:
        return text.replace(" ", "  ", 1) + " "
    return text


def build_catalog(class_sizes: dict[str, int], seed: int) -> list[tuple[str, str]]:
    """Unique (description, category) rows, shuffled."""
    rng = random.Random(seed)
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for category, size in class_sizes.items():
        made = 0
        while made < size:
            text = describe(category, rng)
            if text.casefold() not in seen:
                seen.add(text.casefold())
                rows.append((text, category))
                made += 1
    rng.shuffle(rows)
    return rows


def fixture_rows(
    rows: list[tuple[str, str]], categories: int, per_class: int
) -> list[tuple[str, str]]:
    """The first ``per_class`` rows of each of the first ``categories`` categories."""
    chosen = sorted(CATEGORIES)[:categories]
    taken: dict[str, int] = dict.fromkeys(chosen, 0)
    picked = []
    for text, category in rows:
        if category in taken and taken[category] < per_class:
            taken[category] += 1
            picked.append((text, category))
    return picked


def write_csv(rows: list[tuple[str, str]], path: Path) -> None:
    """Write ``rows`` under a ``description,category`` header as quoted UTF-8 CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["description", "category"])
        writer.writerows(rows)


def class_sizes(seed: int) -> dict[str, int]:
    """Moderately unbalanced classes, as in a real shop."""
    rng = random.Random(seed)
    return {category: rng.randrange(90, 181) for category in CATEGORIES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/raw/catalog.csv"))
    parser.add_argument("--fixture", type=Path, default=Path("tests/fixtures/catalog.csv"))
    parser.add_argument("--seed", type=int, default=SEED)
    arguments = parser.parse_args()
    rows = build_catalog(class_sizes(arguments.seed), arguments.seed)
    write_csv(rows, arguments.out)
    write_csv(fixture_rows(rows, categories=8, per_class=12), arguments.fixture)
    print(f"wrote {len(rows)} rows in {len(CATEGORIES)} categories to {arguments.out}")


if __name__ == "__main__":
    main()
