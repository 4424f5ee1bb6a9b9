"""The window (QtWidgets): main_window.MainWindow and the models, delegates, dialogs and widgets it is made of."""
