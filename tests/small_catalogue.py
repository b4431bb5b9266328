"""A hand-written catalogue of a few dozen titles for the fast tier (`small_home` in conftest.py).

Movies and shows, several languages (en, ja, zh, de, fr, es, ko), franchise entries (Toy Story 1-3, Alien /
Aliens, The Dark Knight trilogy), shared names (two "Batman"s, two "The Host"s) and null fields (no year,
runtime, votes, rating, overview or genres) — the cases the filters, search and franchise rules care about.
"""

from __future__ import annotations

from flixrec.models import Person, Title


def _movie(n: int, title: str, year: int | None, overview: str | None, genres: tuple[str, ...], **extra) -> Title:
    return Title(title_id=f"small-movie-{n}", media_type="movie", title=title, source="small", year=year,
                 overview=overview, genres=genres, **{"language": "en", "runtime": 110, "votes": 1000,
                                                      "rating": 7.0, **extra})


def _show(n: int, title: str, year: int | None, overview: str | None, genres: tuple[str, ...], **extra) -> Title:
    return Title(title_id=f"small-show-{n}", media_type="show", title=title, source="small", year=year,
                 overview=overview, genres=genres, **{"language": "en", **extra})


SMALL_TITLES: tuple[Title, ...] = (
    _movie(1, "Toy Story", 1995, "A cowboy doll is threatened when a new spaceman action figure becomes the boy's "
           "favourite toy.", ("Animation", "Family", "Comedy"), runtime=81, votes=5000, rating=8.3,
           people=(Person("p-lasseter", "John Lasseter", "director"), Person("p-hanks", "Tom Hanks", "cast", 0, "Woody"))),
    _movie(2, "Toy Story 2", 1999, "Woody is stolen by a toy collector and the other toys set out to rescue him.",
           ("Animation", "Family", "Comedy"), runtime=92, votes=4000, rating=7.9),
    _movie(3, "Toy Story 3", 2010, "The toys are mistakenly donated to a day-care centre as their owner leaves "
           "for college.", ("Animation", "Family", "Comedy"), runtime=103, votes=4500, rating=8.2),
    _movie(4, "Alien", 1979, "The crew of a commercial space tug meets a deadly creature aboard their ship.",
           ("Horror", "Science Fiction"), runtime=117, votes=4200, rating=8.1),
    _movie(5, "Aliens", 1986, "Ripley returns with space marines to the moon where the crew first met the creature.",
           ("Horror", "Action", "Science Fiction"), runtime=137, votes=3500, rating=7.9),
    _movie(6, "Batman Begins", 2005, "A billionaire trains with a secret society and returns to Gotham to fight "
           "crime as a masked vigilante.", ("Action", "Crime", "Drama"), runtime=140, votes=8000, rating=7.5),
    _movie(7, "The Dark Knight", 2008, "Batman faces the Joker, a criminal mastermind who plunges Gotham into "
           "anarchy.", ("Action", "Crime", "Drama", "Thriller"), runtime=152, votes=12000, rating=8.2),
    _movie(8, "The Dark Knight Rises", 2012, "Eight years later Batman returns to defend Gotham from the "
           "terrorist Bane.", ("Action", "Crime", "Drama", "Thriller"), runtime=165, votes=9000, rating=7.6),
    _movie(9, "Batman", 1989, "The Dark Knight of Gotham City begins his war on crime against the Joker.",
           ("Fantasy", "Action"), runtime=126, votes=2100, rating=7.0),
    _movie(10, "Batman", 1966, "The Dynamic Duo face four supervillains who plan to hold the world for ransom.",
           ("Family", "Adventure", "Comedy"), runtime=105, votes=200, rating=6.1),
    _movie(11, "Interstellar", 2014, "A team of explorers travel through a wormhole in space to ensure "
           "humanity's survival.", ("Adventure", "Drama", "Science Fiction"), runtime=169, votes=10000, rating=8.1),
    _movie(12, "Gravity", 2013, "Two astronauts work together to survive after an accident leaves them adrift "
           "in space.", ("Science Fiction", "Thriller", "Drama"), runtime=91, votes=5000, rating=7.3),
    _movie(13, "The Martian", 2015, "An astronaut stranded on Mars must find a way to survive until rescue.",
           ("Drama", "Adventure", "Science Fiction"), runtime=141, votes=7000, rating=7.6),
    _movie(14, "Inception", 2010, "A thief who steals secrets by entering the subconscious of his targets is "
           "offered a chance to have his past crimes forgiven.", ("Action", "Thriller", "Science Fiction",
                                                                 "Mystery"), runtime=148, votes=13000, rating=8.1),
    _movie(15, "Finding Nemo", 2003, "A timid clownfish crosses the ocean to find his son, taken by a diver.",
           ("Animation", "Family"), runtime=100, votes=6000, rating=7.6),
    _movie(16, "Titanic", 1997, "A young aristocrat falls in love with a poor artist aboard the ill-fated liner.",
           ("Drama", "Romance"), runtime=194, votes=7500, rating=7.5),
    _movie(17, "The Host", 2006, "A monster emerges from Seoul's Han River and seizes a family's daughter.",
           ("Horror", "Drama", "Science Fiction"), language="ko", original_title="괴물", runtime=119, votes=600,
           rating=6.7),
    _movie(18, "The Host", 2013, "Earth is occupied by parasitic aliens and one young woman's mind resists.",
           ("Action", "Adventure", "Romance", "Science Fiction"), runtime=125, votes=1800, rating=6.0),
    _movie(19, "Das Boot", 1981, "Ein deutsches U-Boot jagt im Zweiten Weltkrieg alliierte Schiffe im Atlantik.",
           ("Drama", "History", "War"), language="de", runtime=149, votes=900, rating=7.9),
    _movie(20, "Amélie", 2001, "Une jeune serveuse de Montmartre décide d'aider les gens autour d'elle en secret.",
           ("Comedy", "Romance"), language="fr", original_title="Le Fabuleux Destin d'Amélie Poulain",
           runtime=122, votes=3500, rating=7.8),
    _movie(21, "El laberinto del fauno", 2006, "En la España de la posguerra, una niña descubre un laberinto "
           "habitado por un fauno.", ("Fantasy", "Drama", "War"), language="es", runtime=118, votes=2500,
           rating=7.7),
    _movie(22, "千と千尋の神隠し", 2001, "少女千尋は不思議な町に迷い込み、両親を救うために湯屋で働く。",
           ("Animation", "Family", "Fantasy"), language="ja", aliases=("Spirited Away", "千与千寻"),
           runtime=125, votes=3800, rating=8.5),
    _movie(23, "卧虎藏龙", 2000, "两位武林高手寻找被盗的青冥剑，一位年轻女子卷入江湖恩怨。",
           ("Action", "Adventure", "Drama"), language="zh", aliases=("Crouching Tiger, Hidden Dragon",),
           runtime=120, votes=1200, rating=7.3),
    _movie(24, "Untitled Project", None, None, (), runtime=None, votes=None, rating=None, language=None),
    _movie(25, "Lost Reel", None, "A film whose year, runtime and rating were never recorded.", ("Drama",),
           runtime=None, votes=None, rating=None),
    _show(1, "Breaking Bad", 2008, "A chemistry teacher diagnosed with cancer turns to making methamphetamine.",
          ("Drama", "Crime"), runtime=47, votes=20000, rating=8.9, network="AMC", aired_episodes=62),
    _show(2, "Better Call Saul", 2015, "Six years before Breaking Bad, a small-time lawyer becomes Saul Goodman.",
          ("Drama", "Crime"), runtime=46, votes=9000, rating=8.7, network="AMC"),
    _show(3, "The Office", 2005, "A mockumentary about the everyday lives of office employees at a paper company.",
          ("Comedy",), runtime=22, votes=12000, rating=8.5),
    _show(4, "Dark", 2017, "Ein verschwundenes Kind setzt vier Familien auf die Spur eines Zeitreise-Rätsels.",
          ("Drama", "Mystery", "Science Fiction"), language="de", runtime=60, votes=3000, rating=8.4),
    _show(5, "進撃の巨人", 2013, "巨人に支配された世界で、壁の中に暮らす人類が反撃を始める。",
          ("Animation", "Action", "Fantasy"), language="ja", aliases=("Attack on Titan", "进击的巨人")),
    _show(6, "名侦探柯南", 1996, "高中生侦探工藤新一被灌下毒药后身体变小，化名江户川柯南继续破案。",
          ("Animation", "Mystery"), language="zh", aliases=("Detective Conan",)),
    _show(7, "La casa de papel", 2017, "Un grupo de atracadores toma la Fábrica Nacional de Moneda y Timbre.",
          ("Crime", "Drama", "Thriller"), language="es", runtime=50, votes=4000, rating=8.2),
    _show(8, "Le Bureau des Légendes", 2015, "Les agents de la DGSE vivent sous de fausses identités à l'étranger.",
          ("Drama", "Thriller"), language="fr", runtime=52, votes=500, rating=8.6),
    _show(9, "Unaired Pilot", None, None, (), language=None),
    _show(10, "Planet Earth", 2006, "A documentary series on the wildlife and habitats of the planet.",
          ("Documentary",), runtime=50, votes=3000, rating=9.4),
)
