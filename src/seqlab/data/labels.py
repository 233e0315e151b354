"""How a class is named: the way training files wrote its label, numbers normalised ("1.0" and
"1" are class "1"), so training, evaluation and prediction name the same class the same way.
Kept apart from data/splits.py, whose scikit-learn import prediction does not need."""


def label_name(label: str) -> str:
    try:
        number = float(label)
    except ValueError:
        return str(label)
    return str(int(number)) if number.is_integer() else str(number)
