
HN-SEDS-000005HN-SEDS°תצב (8HR!
CAR-2019-002
CorintoHN
 