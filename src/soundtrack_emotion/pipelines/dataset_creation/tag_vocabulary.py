"""The project's own tag vocabulary: which Last.fm tags name a feeling, and what the others are.

Curated by the project (not copied from any lexicon), versioned with ``VOCABULARY_VERSION``:
a change of any list below is a new version, recorded in every ``dataset_report``. Entries are
compared in the variant-folded form of ``tag_filter.variant_key`` ("Hip-Hop", "hip hop",
"hiphop" and "drum & bass", "drum n bass" are one entry each), so each is written once.

* ``AFFECT_WORDS``: words and phrases that denote a mood, emotion or feeling. A tag is kept
  only when it is one of these, a simple inflection of one ("saddest", "sadness"), or a
  phrase of them with filler ("sad songs", "dark and moody", "so beautiful").
* ``NON_AFFECT_WORDS``: whole tags of each non-affect class, and ``NON_AFFECT_TOKENS``: words
  that put any tag containing them in that class ("melodic death *metal*", "*swedish* indie").
  ``GENRE_SUFFIXES`` and ``GENRE_PREFIXES`` catch compounds ("sadcore", "post-rock").

Borderline words (see the dataset_creation docs): beautiful, lovely, pretty, gorgeous, chill,
epic, dark, soft, fun, funny, sexy and emotional are affect (kept); atmospheric, groovy and
heavy name a sound, and cool, nice, love, awesome, amazing and great are liking tags (dropped).
"""

from __future__ import annotations

VOCABULARY_VERSION = "1.0"


def _words(text: str) -> tuple[str, ...]:
    """Comma- or newline-separated entries; blank entries are ignored."""
    return tuple(w.strip() for line in text.splitlines() for w in line.split(",") if w.strip())


class TagClass:
    """The class of a tag; every class but ``AFFECT`` is dropped by the affect filter."""

    AFFECT = "affect"
    GENRE = "genre"  # genres, styles and scenes
    INSTRUMENT_VOICE = "instrument_voice"  # instruments, voices, vocal line-ups
    PLACE_LANGUAGE = "place_language"  # countries, cities, nationalities, languages
    ERA = "era"  # decades, years, "oldies"
    LIKING_META = "liking_meta"  # liking, rating, collection and listening meta tags
    MEDIA = "media"  # film, TV, game and soundtrack context (the thesis's stop-list)
    SITUATION = "situation_theme"  # activities, seasons, times, places to listen, topics
    SOUND = "sound_quality"  # tempo, loudness, texture: how it sounds, not what it feels
    UNLISTED = "not_in_affect_vocabulary"  # no affect word: names, titles, unknown words
    STOP_LIST = "stop_list"  # dropped by the thesis's stop-list (tag_filter: stop_list)
    NOT_STOP_LISTED = "not_stop_listed"  # kept by the stop-list (tag_filter: stop_list)

    NON_AFFECT = (
        GENRE,
        INSTRUMENT_VOICE,
        PLACE_LANGUAGE,
        ERA,
        LIKING_META,
        MEDIA,
        SITUATION,
        SOUND,
    )


AFFECT_WORDS = _words(
    """
    sad, sadness, unhappy, sorrow, sorrowful, mournful, grief, grieving, lament, melancholy,
    melancholic, melancholia, depressed, depressing, depressive, depression, gloomy, gloom,
    bleak, desolate, despair, despairing, hopeless, helpless, lonely, loneliness, alone, lonesome,
    heartbreak, heartbreaking, heartbroken, heartache, broken hearted, tearjerker, tear jerker,
    tearful, tears, crying, cry, weeping, tragic, tragedy, pain, painful, hurt, hurting, regret,
    regretful, remorse, guilt, shame, longing, yearning, wistful, nostalgic, nostalgia,
    bittersweet, poignant, plaintive, somber, sombre, solemn, funereal, dismal, miserable,
    misery, suicidal, empty, emptiness, numb, hollow, weary, tired, exhausted, forlorn,
    dark, darkness, grim, brooding, moody, morose, sullen, haunting, haunted, eerie, spooky,
    creepy, scary, frightening, fear, fearful, afraid, scared, terrifying, terror, horror,
    dread, ominous, menacing, sinister, threatening, evil, malevolent, disturbing, unsettling,
    uneasy, nightmare, nightmarish, paranoid, paranoia, anxious, anxiety, nervous, tense,
    tension, suspense, suspenseful, thrilling, stress, stressful, restless, frantic,
    panic, desperate, desperation, angry, anger, rage, furious, fury, hate, hatred, hateful,
    aggressive, aggression, hostile, violent, brutal, vicious, fierce, savage, wrathful,
    bitter, bitterness, frustrated, frustration, annoyed, resentful, rebellious, defiant,
    angst, angsty, intense, intensity, powerful, dramatic, drama, epic, heroic, triumphant,
    victorious, majestic, grand, grandiose, glorious, noble, proud, pride, confident,
    determined, brave, courageous, bold, strong, empowering, fiery, passionate, passion,
    happy, happiness, joy, joyful, joyous, cheerful, cheery, glad, delight, delightful, merry,
    jolly, bliss, blissful, euphoric, euphoria, ecstatic, ecstasy, elated, exuberant, excited,
    exciting, excitement, enthusiastic, thrill, fun, funny, humorous, humour, humor, playful,
    silly, quirky, whimsical, goofy, amusing, cheeky, carefree, lighthearted, light hearted,
    optimistic, optimism, positive, hopeful, hope, uplifting, inspiring, inspirational,
    motivational, motivating, encouraging, feel good, good mood, good vibes, happy vibes,
    sunny, bright, warm, warmth, cozy, cosy, comforting, comfort, reassuring,
    energetic, energy, lively, upbeat, bouncy, rousing, stirring, invigorating, exhilarating,
    adrenaline, wild, crazy, frenzy, manic, hyper, pumped, hype,
    calm, calming, peaceful, peace, serene, serenity, tranquil, tranquility, relaxed,
    relaxing, relaxation, relax, soothing, mellow, chill, chilled, chilling, laid back,
    easygoing, easy going, gentle, tender, tenderness, soft, delicate, fragile, quiet,
    dreamy, dreaming, dreamlike, ethereal, hypnotic, trance like, meditative, contemplative,
    reflective, introspective, pensive, thoughtful, wonder, wonderment, awe, awestruck,
    mysterious, mystery, mystical, magical, enchanting, enchanted, mesmerizing, mesmerising,
    spiritual, reverent, sacred, transcendent, cathartic, moving, touching, emotional,
    emotion, emotive, sentimental, heartfelt, heartwarming, heart warming, intimate,
    romantic, romance, loving, in love, lovesick, affectionate, sweet, sensual, sexy, seductive,
    sultry, erotic, lust, desire, flirty, flirtatious, innocent, naive, childlike,
    beautiful, beauty, lovely, pretty, gorgeous, elegant, graceful, sublime,
    sad but beautiful, high energy, disdainful, imperious, ruthless, terrified, urgent,
    giddy, dignified, assured, composed, wistfulness, bored, boredom, apathy, apathetic,
    indifferent,
    cold, icy, chilly, frozen, wintry, austere, stoic, detached, distant, aloof, cynical,
    sarcastic, ironic, smug, arrogant, cocky, swagger, sassy, badass, tough,
    shy, timid, humble, vulnerable, insecure, confused, confusion, lost, surreal, bizarre,
    weird, strange, uncanny, trippy, psychedelic trip, druggy, hazy, woozy, drowsy, sleepy,
    somnolent, lazy, sluggish, dreary, brooding, stern, serious, earnest, sincere, honest,
    sorrowful, relieved, relief, grateful, gratitude, thankful, satisfied, content,
    contentment, fulfilled, liberating, victorious, conquering, fearless,
    jubilant, celebratory, festive, triumph, glory, hopefulness, longing, homesick,
    homesickness, love sick, goosebumps, goose bumps, chills, shivers, spine tingling,
    breathtaking, overwhelming, thrilled, shocked, shocking, surprised, surprising, tense,
    edgy, gritty, raw emotion, melodramatic, cheesy, corny, kitsch, campy, sappy, mushy,
    macabre, morbid, gothic horror, apocalyptic, doom and gloom, despondent, dejected,
    crestfallen, downcast, downhearted, blue mood, feeling blue, feeling down, upset, troubled,
    tormented, anguish, anguished, agony, suffering, sorrowing, mourning, elegiac, wretched
    """
)

NON_AFFECT_WORDS: dict[str, tuple[str, ...]] = {
    TagClass.GENRE: _words(
        """
        rock, pop, jazz, blues, folk, country, metal, punk, soul, funk, disco, reggae, ska, rap,
        hip hop, hiphop, trap, rnb, r and b, rhythm and blues, gospel, electronic, electronica,
        electro, techno, house, trance, dubstep, drum and bass, dnb, jungle, breakbeat,
        breakcore, idm, edm, ambient, downtempo, trip hop, chillout, chill out, lounge,
        new age, world, world music, latin, salsa, samba, bossa nova, tango, flamenco, fado,
        cumbia, reggaeton, dancehall, afrobeat, afrobeats, highlife, kpop, k pop, jpop, j pop,
        j rock, visual kei, cpop, mandopop, cantopop, city pop, enka, bollywood, bhangra,
        qawwali, klezmer, polka, celtic, bluegrass, americana, alt country, cowboy, western,
        honky tonk, rockabilly, rock and roll, rock n roll, doo wop, motown, northern soul,
        neo soul, funk rock, jazz fusion, fusion, smooth jazz, bebop, hard bop, swing,
        big band, dixieland, free jazz, acid jazz, nu jazz, cool jazz, modal jazz, ragtime,
        delta blues, blues rock, grunge, indie, indie rock, indie pop, indie folk, alternative,
        alternative rock, alt rock, britpop, shoegaze, dream pop, noise pop, noise rock,
        post rock, post punk, post hardcore, post metal, math rock, emo, screamo, hardcore,
        hardcore punk, pop punk, skate punk, ska punk, crust, grindcore, deathcore,
        metalcore, mathcore, nu metal, heavy metal, death metal, black metal, doom metal,
        thrash metal, speed metal, power metal, folk metal, viking metal, symphonic metal,
        gothic metal, progressive metal, prog metal, sludge, stoner rock, stoner metal,
        djent, glam rock, glam metal, hair metal, hard rock, classic rock, arena rock,
        soft rock, art rock, prog, prog rock, progressive rock, psychedelic, psychedelic rock,
        psych, krautrock, space rock, garage rock, surf, surf rock, southern rock, yacht rock,
        new wave, no wave, cold wave, coldwave, darkwave, dark wave, synthwave, synthpop,
        synth pop, electropop, electroclash, ebm, industrial, industrial metal, gothic,
        goth, goth rock, gothic rock, deathrock, post industrial, noise, harsh noise, drone,
        dark ambient, power electronics, experimental, avant garde, avantgarde, minimalism,
        minimal, musique concrete, sound art, field recordings, glitch, vaporwave, chillwave,
        lofi hip hop, lo fi hip hop, lofi, lo fi, bedroom pop, hyperpop, witch house,
        classical, baroque, romantic era, romanticism, contemporary classical,
        modern classical, neoclassical, neo classical, opera, operetta, chamber music, symphony,
        symphonic, orchestral, choral, early music, medieval, renaissance, gregorian chant,
        chant, impressionism, impressionist, serialism, avant garde classical, musical theatre,
        musical theater, broadway, show tunes, cabaret, chanson, schlager, singer songwriter,
        acoustic folk, freak folk, neofolk, dark folk, anti folk, folk rock, folk pop,
        country rock, outlaw country, pop rock, power pop, jangle pop, twee, twee pop,
        chamber pop, baroque pop, art pop, sophisti pop, dance, dance pop, eurodance,
        europop, italo disco, hi nrg, club, deep house, tech house, progressive house,
        acid house, electro house, future house, tropical house, garage, uk garage, 2 step,
        grime, drill, boom bap, gangsta rap, conscious hip hop, underground hip hop,
        alternative hip hop, east coast rap, west coast rap, crunk, hyphy, cloud rap,
        emo rap, phonk, trap metal, nerdcore, horrorcore, hardstyle, gabber, happy hardcore,
        uk hardcore, psytrance, goa, goa trance, uplifting trance, vocal trance,
        progressive trance, big beat, future bass, moombahton, footwork, juke, bass music,
        liquid funk, neurofunk, dub, dub techno, roots reggae, lovers rock, rocksteady,
        soca, calypso, zouk, kizomba, merengue, bachata, mariachi, ranchera, corrido,
        norteno, tejano, forro, mpb, tropicalia, axe, pagode, sertanejo, baile funk,
        rai, gnawa, mbalax, soukous, kwaito, amapiano, gqom, desert blues, tuareg,
        mbaqanga, isicathamiya, carnatic, hindustani, raga, ghazal, sufi, gamelan,
        throat singing, mongolian folk, celtic punk, gypsy jazz, manouche, balkan,
        balkan brass, rebetiko, turkish psych, arabesque, anime, anison, vocaloid, chiptune,
        8 bit, video game music, game music, orchestral pop, cinematic, trailer music,
        epic music, christian, christian rock, ccm, worship, praise, hymns, spiritual music,
        religious, new romantic, mod, freakbeat, beat, merseybeat, skiffle,
        protopunk, proto punk, oi, street punk, riot grrrl, queercore, straight edge,
        youth crew, beatdown, powerviolence, d beat, crossover, crossover thrash, grind,
        goregrind, slam, brutal death metal, technical death metal, melodeath, blackgaze,
        atmospheric black metal, depressive black metal, dsbm, funeral doom, drone metal,
        avant garde metal, pagan metal, epic metal, neoclassical metal, shred,
        instrumental rock, guitar rock, heavy rock, stadium rock, pub rock, punk rock, garage punk,
        psychobilly, horror punk, deathgrind, trip rock, dance punk, dance rock, disco punk,
        nu disco, post disco, boogie, quiet storm, new jack swing, contemporary r and b,
        urban, urban contemporary, adult contemporary, easy listening, elevator music,
        muzak, exotica, space age pop, library music, lounge music, downbeat, ambient pop,
        ambient techno, ambient house, minimal techno, detroit techno, acid techno,
        industrial techno, hard techno, schranz, electro swing, swing house, folktronica,
        indietronica, livetronica, dream house, progressive, alternative metal,
        alternative pop, alternative dance, alternative country, indie electronic,
        electronic rock, synth rock, space ambient, soundscape, soundscapes, drone ambient,
        post classical, neo romantic, contemporary, modern, avant pop, zeuhl,
        canterbury scene, canterbury, symphonic rock, neo prog, art punk, post grunge,
        emocore, midwest emo, slowcore, sadcore, dream folk, sad rap, soul jazz,
        latin jazz, vocal jazz, jazz vocal, jazz rap, jazz hop, chamber jazz, ecm,
        electroacoustic, acousmatic, tape music, plunderphonics, sampling, turntablism,
        mashup, remix culture, cover songs, tribute, a cappella pop, barbershop, doowop,
        girl group, boy band, teen pop, bubblegum, bubblegum pop, novelty, comedy rock,
        parody, children's music, kids, lullaby, nursery rhymes, polka punk, folk punk,
        cowpunk, gothabilly, surf punk, ska core, two tone, 2 tone, reggae rock,
        rap rock, rap metal, funk metal, groove metal, industrial rock, electro industrial,
        aggrotech, futurepop, synthpunk, minimal wave, minimal synth, italo, hi energy,
        freestyle, miami bass, electro funk, g funk, p funk, funk soul, soul funk,
        southern soul, deep soul, philly soul, blue eyed soul, psychedelic soul, retro soul,
        torch songs, crooner, crooners, standards, vocal pop, traditional pop, operatic pop,
        classical crossover, popera, new classical, piano rock, post britpop, madchester,
        baggy, c86, paisley underground, college rock, lo fi indie, slacker rock, math pop,
        twinkle, emo pop, easycore, crunkcore, electronicore, nintendocore, sasscore,
        metalstep, brostep, riddim, wonky, glitch hop, trip hop beats, instrumental hip hop,
        beats, chillhop, jazzhop, soulful house, gospel house, afro house, latin house,
        tribal house, hard house, hardbag, handsbag, scouse house, bassline, speed garage,
        dark garage, future garage, post dubstep, uk funky, broken beat, nu skool breaks,
        progressive breaks, breaks, acid, acid rock, acid folk, raga rock, indian classical,
        arabic, oriental, flamenco nuevo, nuevo tango, fado novo, canzone, cantautori,
        chanson francaise, variete, nouvelle chanson, yeye, french touch, french house,
        krautrock revival, neue deutsche welle, ndw, neue deutsche harte, ostrock,
        liedermacher, volksmusik, humppa, joik, nordic folk, scandinavian folk, russian folk,
        russian rock, russian pop, shanson, bard, estrada, turbo folk, manele, chalga,
        laika, entechno, zeibekiko, ska jazz, jazz funk, jazz rock, jazz pop, fusion jazz,
        third stream, avant jazz, spiritual jazz, post bop, hard bop jazz, latin pop,
        latin rock, rock en espanol, nueva cancion, trova, nueva trova, son, son cubano,
        bolero, mambo, cha cha, guaracha, timba, bomba, plena, vallenato, champeta,
        chicha, huayno, andean, cueca, joropo, musica popular, folklore, folk music,
        traditional, traditional folk, roots, roots rock, heartland rock, jam band,
        jam, jamband, southern gothic, gothic country, alt folk, chamber folk, psych folk,
        psychedelic folk, folk baroque, british folk, american folk, contemporary folk,
        progressive folk, medieval folk, pagan folk, ritual, ritual ambient, dungeon synth,
        black ambient, isolationism, lowercase, microsound, onkyo, reductionism, eai,
        free improvisation, improvisation, improv, noise rock revival, no wave revival,
        electronic music, dance music, club music, rock music, pop music, metal music,
        hip hop music, rap music, jazz music, classical music, folk music revival
        """
    ),
    TagClass.INSTRUMENT_VOICE: _words(
        """
        instrumental, instrumentals, vocal, vocals, vocalist, vocalists, a cappella,
        acapella, female vocalists, male vocalists, female vocalist, male vocalist,
        female vocals, male vocals, female voice, male voice, female fronted, female singer,
        male singer, singer, singers, choir, choirs, chorus, duet, duets, solo, piano solo,
        guitar solo, orchestra, string quartet, strings, string, brass, woodwind, woodwinds,
        percussion, drums, drum, drummer, beats and bass, bass, bass guitar, bassline music,
        guitar, guitars, electric guitar, acoustic guitar, classical guitar, slide guitar,
        steel guitar, pedal steel, banjo, mandolin, ukulele, harp, harpsichord, organ,
        hammond, hammond organ, accordion, harmonica, piano, keyboard, keyboards, synth,
        synthesizer, synthesizers, moog, theremin, mellotron, rhodes, violin, viola, cello,
        double bass, contrabass, flute, piccolo, clarinet, oboe, bassoon, saxophone, sax,
        trumpet, trombone, tuba, french horn, horn, horns, bagpipes, tin whistle, fiddle,
        sitar, tabla, koto, shamisen, erhu, oud, bouzouki, balalaika, didgeridoo, kalimba,
        marimba, xylophone, vibraphone, glockenspiel, celesta, timpani, bells, chimes,
        handpan, steel drum, steelpan, drum machine, 808, tr 808, sampler, turntables,
        beatbox, beatboxing, whistling, falsetto, soprano, alto, tenor, baritone,
        countertenor, mezzo soprano, opera singer, rapper, rappers, mc, dj, band, bands,
        duo, trio, quartet, group, supergroup, female, male, woman, man,
        girl, boy, women, men, voice, voices, singing, screaming, growling, growls, scream,
        spoken word, narration, whisper, whispering, chanting, yodel, yodeling, autotune,
        auto tune, vocoder, talkbox, guitar virtuoso, virtuoso, guitarist, guitarists,
        pianist, pianists, violinist, cellist, drummers, bassist, composer, composers,
        conductor, producer, producers, songwriter, songwriters, multi instrumentalist
        """
    ),
    TagClass.PLACE_LANGUAGE: _words(
        """
        american, usa, us, america, united states, canadian, canada, mexican, mexico,
        brazilian, brazil, argentinian, argentine, argentina, chilean, chile, colombian,
        colombia, peruvian, peru, cuban, cuba, jamaican, jamaica, venezuelan, puerto rico,
        puerto rican, british, uk, england, english, scottish, scotland, welsh, wales, irish,
        ireland, northern ireland, french, france, german, germany, deutsch, austrian,
        austria, swiss, switzerland, dutch, netherlands, holland, belgian, belgium,
        luxembourg, spanish, spain, espanol, catalan, basque, portuguese, portugal,
        italian, italy, italiano, greek, greece, swedish, sweden, svenska, norwegian,
        norway, norsk, danish, denmark, finnish, finland, suomi, icelandic, iceland,
        faroese, estonian, estonia, latvian, latvia, lithuanian, lithuania, polish, poland,
        polska, czech, czechia, slovak, slovakia, hungarian, hungary, romanian, romania,
        bulgarian, bulgaria, serbian, serbia, croatian, croatia, bosnian, slovenian,
        slovenia, macedonian, albanian, ukrainian, ukraine, russian, russia, belarusian,
        georgian, armenian, azerbaijani, turkish, turkey, israeli, israel, hebrew, arab,
        arabic language, lebanese, egyptian, egypt, moroccan, morocco, algerian, tunisian,
        iranian, iran, persian, afghan, pakistani, indian, india, hindi, punjabi, tamil,
        bengali, nepali, sri lankan, chinese, china, mandarin, cantonese, taiwanese, taiwan,
        hong kong, japanese, japan, korean, korea, south korea, mongolian, mongolia,
        vietnamese, vietnam, thai, thailand, indonesian, indonesia, malaysian, filipino,
        philippines, australian, australia, aussie, new zealand, kiwi, african, africa,
        south african, nigerian, nigeria, ghanaian, ghana, senegalese, mali, malian,
        ethiopian, ethiopia, kenyan, congolese, congo, cape verde, angolan, angola,
        european, europe, scandinavian, scandinavia, nordic, balkans, latin american,
        latino, latina, caribbean, asian, asia, middle east, middle eastern, oriental music,
        international, foreign, foreign language, non english, world language, local,
        nyc, new york, brooklyn, los angeles, la, california, chicago, detroit, seattle,
        austin, texas, nashville, memphis, new orleans, atlanta, boston, portland,
        san francisco, bay area, london, manchester, liverpool, bristol, glasgow, dublin,
        paris, berlin, hamburg, vienna, amsterdam, stockholm, gothenburg, oslo, bergen,
        copenhagen, helsinki, reykjavik, madrid, barcelona, lisbon, rome, milan, athens,
        moscow, warsaw, prague, budapest, tokyo, osaka, seoul, beijing, shanghai, mumbai,
        montreal, toronto, vancouver, melbourne, sydney, rio, sao paulo, buenos aires,
        havana, kingston, lagos, cairo, istanbul, tel aviv, local band, hometown,
        southern, midwest, west coast, east coast, dirty south, bavarian, flemish, occitan,
        galician, gaelic, yiddish, latin language, esperanto, native american, sami,
        hawaiian, hawaii, polynesian, maori, inuit, roma, romani, gypsy
        """
    ),
    TagClass.ERA: _words(
        """
        oldies, oldie, golden oldies, old school, oldschool, retro, vintage, classic hits,
        sixties, seventies, eighties, nineties, noughties, fifties, forties, thirties,
        twenties, millennium, y2k, new millennium, modern era, decade, 20th century,
        21st century, 19th century, 18th century, pre war, post war, wartime
        """
    ),
    TagClass.LIKING_META: _words(
        """
        favorite, favorites, favourite, favourites, fav, favs, fave, faves, loved, love,
        love it, i love it, love this, love this song, lovely song, like, liked, likes,
        awesome, amazing, brilliant, great, good, best, perfect, masterpiece, excellent,
        fantastic, incredible, wonderful, superb, outstanding, genius, legendary, legend,
        legends, classic, classics, cool, nice, sweet song, catchy, earworm, addictive,
        overrated, underrated, crap, shit, bad, boring, annoying song, worst, meh, ok, okay,
        seen live, live, concert, concerts, festival, festivals, download, downloaded,
        free download, mp3, flac, lossless, vinyl, cd, cassette, lyrics, lyric, lyrical,
        cover, covers, remix, remixes, remixed, mashup song, bootleg, demo, demos, single,
        singles, ep, album, albums, lp, b side, rarities, live version, acoustic version,
        radio edit, extended mix, bonus track, hit, hits, top 40, chart, charts, number one,
        number 1, billboard, grammy, grammy winner, eurovision, one hit wonder,
        spotify, youtube, lastfm, last fm, pandora, itunes, soundcloud, bandcamp, radio,
        my music, my playlist, playlist, playlists, to listen, to check out, check out,
        listen, listened, listening, heard on, heard on pandora, recommended,
        recommendation, discover, new, new music, unknown, unsigned, indie label,
        seen in concert, want to see live, albums i own, own, owned, collection,
        my collection, wishlist, to buy, buy, purchased, favorite songs, favourite songs,
        favorite tracks, favourite tracks, best songs, best of, greatest hits,
        all time favorites, top, top tracks, 5 stars, five stars, 4 stars, 10 of 10, 10 10,
        essential, must hear, must listen, guilty pleasure, guilty pleasures, wow, yes,
        omg, lol, epic win, win, fail, random, misc, other, others, various,
        various artists, compilation, mixtape, mix, tracks, track, music, tunes,
        artist, artists, musicians, fan, fans, beautiful voice, great voice, amazing voice,
        great lyrics, beautiful lyrics, good lyrics,
        good stuff, great song, good song, great songs, good music, real music, quality,
        awesome song, amazing song, cool song, nice song, love song, love songs
        """
    ),
    TagClass.MEDIA: _words(
        """
        soundtrack, soundtracks, ost, original soundtrack, film score, film scores, score,
        scores, movie, movies, film, films, film music, movie music, movie soundtrack,
        movie score, cinema, tv, television, tv series, tv show, tv soundtrack, series,
        theme, theme song, themes, main theme, end credits, opening, ending, intro, outro,
        interlude, credits, trailer, trailers, video game, videogame, game, games, gaming,
        game soundtrack, anime soundtrack, disney, pixar, dreamworks, musical, musicals,
        broadway musical, composer soundtrack, oscar, oscar winner, academy award,
        golden globe, bond, james bond, star wars, harry potter, lord of the rings,
        marvel, superhero, western film, horror film, horror movie, sci fi, science fiction,
        fantasy, documentary, commercial, advert, advertisement, jingle, sample, samples,
        hollywood, nollywood, score composer, incidental music, background music, bgm,
        library, production music, stock music
        """
    ),
    TagClass.SITUATION: _words(
        """
        driving, road trip, roadtrip, travel, traveling, travelling, journey, commute,
        running, workout, gym, exercise, training, sports, football, dancing, dance floor,
        party, partying, party music, club night, drinking, beer, wine, coffee, cooking,
        dinner, breakfast, study, studying, study music, work, working, focus,
        concentration, reading, writing, coding, sleep, sleeping, sleep music, bedtime,
        night, nighttime, late night, midnight, morning, sunday morning, evening, afternoon,
        sunset, sunrise, dawn, dusk, summer, winter, autumn, fall, spring, seasons,
        christmas, xmas, holiday, holidays, halloween, easter, valentine, valentines day,
        new year, birthday, wedding, weddings, funeral, graduation, rain, rainy day, rainy,
        snow, storm, sun, beach, sea, ocean, water, river, mountains, forest, nature,
        space, stars, moon, city, urban life, countryside, home, road, cars, car, train,
        trains, flying, sex, drugs, weed, stoner, drunk, high, war, politics, political,
        protest, religion, god, jesus, death, life, time, dreams, dream, night drive,
        love theme, songs about love, heartbreak songs, breakup, break up, breakup songs,
        friendship, family, mother, father, kids music, school, college, youth, teen, teenage,
        animals, food, money, fashion, art, poetry, literature, books, history, science,
        philosophy, meditation music, yoga, massage, spa, background, ambience, ambiance,
        soundscape music, white noise, asmr, storytelling, story, stories, concept album,
        rock opera, conceptual, cover art, album art, memories, memory, childhood
        """
    ),
    TagClass.SOUND: _words(
        """
        acoustic, electric, unplugged, heavy, loud, noisy, fast, slow, slowed, uptempo,
        up tempo, downtempo beats, midtempo, mid tempo, tempo, bpm, groovy, groove, grooves,
        rhythmic, rhythm, beat driven, bass heavy, bassy, distorted, distortion, fuzz, fuzzy,
        reverb, echo, atmospheric, atmosphere, ambient sound, spacey, spacy, cinematic sound,
        orchestral sound, minimalist, sparse, layered, dense, complex, technical, simple,
        repetitive, catchy melody, melodic, melodious, melody, harmony, harmonies,
        harmonic, dissonant, dissonance, atonal, tonal, polyphonic, polyrhythmic, odd time,
        lo fi sound, hi fi, raw, polished, clean, production, produced, well produced,
        analog, analogue, digital, synthetic, organic, electronic sound, glitchy, crunchy,
        crisp, smooth, silky, lush production, wall of sound, sampled, live drums,
        drum heavy, guitar heavy, piano driven, guitar driven, riff, riffs, riffing, shredding,
        breakdown, breakdowns, drop, bass drop, build up, crescendo, loop, loops, long,
        short, short song, long song, epic length, instrumental track, vocal track, mono,
        stereo, quiet sound, soft sound, heavy sound
        """
    ),
}

# A tag containing one of these words (as a whole word) is in that class.
NON_AFFECT_TOKENS: dict[str, tuple[str, ...]] = {
    TagClass.GENRE: _words(
        """
        rock, pop, jazz, blues, folk, metal, punk, funk, disco, reggae, ska, rap, hiphop,
        rnb, techno, house, trance, dubstep, dnb, idm, edm, ambient, electronica, electro,
        electronic, indie, emo, goth, gothic, grunge, industrial, psychedelic, psych, psy,
        prog, progressive, shoegaze, hardcore, metalcore, grindcore, grind, doom, sludge,
        thrash, djent, synthpop, synthwave, darkwave, chillout, lounge, downtempo, triphop,
        breakbeat, breakcore, jungle, garage, grime, drill, trap, dancehall, reggaeton,
        salsa, samba, tango, flamenco, bossa, cumbia, kpop, jpop, jrock, cpop, gospel,
        country, bluegrass, americana, rockabilly, swing, bebop, fusion, classical, baroque,
        opera, choral, symphonic, orchestral, chamber, neoclassical, minimalism, avantgarde,
        experimental, noise, drone, glitch, vaporwave, chillwave, lofi, hyperpop, dub,
        soul, motown, singer, songwriter, britpop, newwave, postrock, postpunk, krautrock,
        psytrance, hardstyle, gabber, chiptune, vocaloid, anime, polka, celtic, klezmer,
        bhangra, afrobeat, highlife, latin, christian, worship, hymn, hymns, ballad,
        ballads, waltz, march, lullaby, lullabies, shanty, chanson, schlager, kayokyoku,
        enka, exotica, surf, stoner, screamo, powerviolence, crust, oi, hardbop, genre,
        genres, subgenre, style, scene, crossover, music genre, beats, breaks, step
        """
    ),
    TagClass.INSTRUMENT_VOICE: _words(
        """
        vocal, vocals, vocalist, vocalists, voice, voices, singer, singers, singing,
        female, male, choir, guitar, guitars, guitarist, piano, pianist, violin, cello,
        viola, strings, orchestra, drums, drum, drummer, bass, bassist, synth, synths,
        synthesizer, saxophone, sax, trumpet, trombone, flute, clarinet, harp, organ,
        accordion, harmonica, banjo, mandolin, ukulele, sitar, keyboard, keys, brass,
        percussion, instrumental, instrumentals, acapella, cappella, rapper, duet, solo,
        band, bands, duo, trio, quartet, quintet, ensemble, composer, composers
        """
    ),
    TagClass.PLACE_LANGUAGE: NON_AFFECT_WORDS[TagClass.PLACE_LANGUAGE],
    TagClass.ERA: _words("oldies, retro, vintage, century, decade, decades, era, eighties"),
    TagClass.LIKING_META: _words(
        """
        favorite, favorites, favourite, favourites, fav, favs, fave, faves, favorit,
        favoritos, loved, love, awesome, amazing, brilliant, great, greatest, best, perfect,
        masterpiece, excellent, fantastic, incredible, wonderful, genius, legendary,
        listeners, listener, scrobbles, plays, stars, star, rating, rated, seen, live,
        concert, download, downloads, mp3, lyrics, cover, covers, remix, remixes, playlist,
        playlists, spotify, youtube, lastfm, pandora, album, albums, vinyl, cd, own, owned,
        collection, wishlist, buy, bought, check, listen, listened, tracks, hits, hit,
        chart, charts, classic, classics, recommended, radio, my, i, me, mine, we,
        catchy, cool, nice, epicness, underrated, overrated, guilty, top, essential, rip
        """
    ),
    TagClass.MEDIA: _words(
        """
        soundtrack, soundtracks, ost, score, scores, film, films, movie, movies, cinema,
        tv, television, series, trailer, game, games, videogame, gaming, disney, pixar,
        musical, musicals, theme, themes, credits, intro, outro, interlude, oscar, anime
        """
    ),
    TagClass.SITUATION: _words(
        """
        driving, drive, travel, workout, gym, running, party, study, studying, sleep,
        sleeping, night, morning, evening, summer, winter, autumn, spring, christmas, xmas,
        halloween, holiday, wedding, rain, rainy, beach, road, car, dance, dancing, about,
        weekend, friday, saturday, sunday, monday, nights, days, day, work,
        coffee, cooking, reading, meditation, yoga
        """
    ),
    TagClass.SOUND: _words(
        "acoustic, electric, unplugged, loud, tempo, bpm, distorted, reverb, lofi, riff, riffs"
    ),
}

# Compounds written as one word ("sadcore", "chillwave", "electropop", "jazzhop").
GENRE_SUFFIXES = _words(
    """
    core, gaze, wave, step, hop, punk, metal, rock, pop, tronica, house, techno, trance,
    jazz, folk, grind, funk, disco, dub, billy, grass, beat, beats, bap, ambient, noise,
    soul, ska, rap, trap, phonk, kei, tone, gabber, fusion, goth
    """
)
# "post-rock", "neo-soul", "nu metal", "proto-punk", "alt-country", "avant-garde jazz".
GENRE_PREFIXES = _words("post, neo, nu, proto, alt, avant, pseudo, hyper, synth, electro, psych")

# Words that add nothing to a phrase ("sad songs", "so dark", "music for a melancholic mood").
FILLER_WORDS = frozenset(
    _words(
        """
        a, an, the, and, or, but, yet, of, for, to, in, with, so, very, really, too, quite,
        pure, just, kinda, kind, sort, bit, little, most, more, much, ever, all, some, such,
        music, musics, song, songs, tune, tunes, track, tracks, sound, sounds, sounding,
        mood, moods, vibe, vibes, vibing, feeling, feelings, feel, feels, atmosphere,
        stuff, thing, things, type, kinda, somewhat, slightly, extremely, super, totally,
        utterly, deeply, truly, incredibly, hauntingly, beautifully, achingly, that, this,
        makes, make, made, making, me, you, it, is, are, be, being, i, am, like, when, get
        """
    )
)
# Feeling verbs allowed in "makes me cry", "songs that make me smile".
FEELING_VERBS = frozenset(_words("cry, weep, smile, laugh, shiver, tremble, sob, tear up, feel"))
