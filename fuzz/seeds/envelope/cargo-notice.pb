
SV-MJSP-000003SV-MJSP°úöá (8Hb_
MSCU1234565BL-77"
Puerto CortÃ©sHN*
	TapachulaMX2GT9…ëQ¸í?Bmanifest_mismatchHjMX-SEGOBj	GT-MINGOB