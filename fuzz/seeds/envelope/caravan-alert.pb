
HN-SEDS-000001HN-SEDS°úöá (8B°üáHR`
CAR-2019-001&
San Pedro SulaHN5^ºI/@!š™™™™VÀ  x*Agua Caliente*TecÃºn UmÃ¡n2 Şöá