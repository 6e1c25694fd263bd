
GT-MINGOB-000002	GT-MINGOB╟ЗЖА (2HN-SEDS-0000018HZzHNF4811902"
Juan Pц╘rez
1990-04-02HN*photo_substitution*mismatched_mrz2%
Agua CalienteGT┘КQ╦-@!мллллLVюjUS-DHSrB2x┌SV-MJSP